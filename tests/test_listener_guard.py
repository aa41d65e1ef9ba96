"""The listener under slow and noisy anonymous clients (issue 29.2): real waitress, real sockets, loopback.

``/healthz`` must answer within the second the issue asks for while 150 clients each trickle a
request a byte a second; a request still arriving after ``REQUEST_READ_SECONDS`` is closed however
steadily it trickles; and a burst of requests writes a bounded number of waitress's warnings.
Every wait is bounded and generous; the slow clients stop by themselves.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.request
from pathlib import Path

from bench.slow_clients import TRICKLE, SlowClients, probe, serving
from sync_daemon.service import listener_guard
from sync_daemon.service.listener_guard import RateLimitedLog


def test_healthz_answers_within_a_second_while_150_clients_trickle(tmp_path: Path) -> None:
    with serving("after", tmp_path) as address, SlowClients(address, 150, limit_seconds=120):
        time.sleep(3)  # the slow clients connect and start trickling (what the probes then meet)
        latencies = []
        for _ in range(5):
            latencies.append(probe(address, timeout=10))  # generous: a missed answer shows as None
            time.sleep(0.3)
    assert None not in latencies, f"probes unanswered within 10 s: {latencies}"
    assert max(latencies) < 1.0, f"/healthz took {max(latencies):.2f} s with 150 slow clients"


def test_a_request_still_arriving_after_the_bound_is_closed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(listener_guard, "REQUEST_READ_SECONDS", 1.0)
    with serving("after", tmp_path) as address:
        connection = socket.create_connection(address, timeout=30)
        try:
            connection.settimeout(0.3)
            deadline = time.monotonic() + 30
            closed = False
            sent = 0
            while not closed and time.monotonic() < deadline:
                try:
                    connection.send(TRICKLE[sent : sent + 1])  # a byte every 0.3 s: never idle
                    sent += 1
                    closed = connection.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
        finally:
            connection.close()
    assert closed, "a request trickling for 30 s was still being read"
    assert sent < 60  # closed after about a second's worth of bytes, not at some other limit


def test_a_client_over_its_connection_share_loses_its_oldest_waiting_connection(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(listener_guard, "REQUEST_READ_SECONDS", 3600.0)  # only the per-client share closes here
    over = 8
    with serving("after", tmp_path) as address:
        with SlowClients(address, listener_guard.CONNECTIONS_PER_CLIENT + over, limit_seconds=60) as slow:
            deadline = time.monotonic() + 30
            while slow.reconnects < over and time.monotonic() < deadline:
                time.sleep(0.1)
        assert slow.reconnects >= over, f"{slow.reconnects} connections closed for {over} over the share"
        assert probe(address, timeout=10) is not None


def test_a_burst_of_requests_writes_few_waitress_warnings(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    with serving("after", tmp_path) as address:
        url = f"http://{address[0]}:{address[1]}/webhooks/woocommerce"

        def hammer() -> None:
            for _ in range(50):
                request = urllib.request.Request(url, data=b"{}", method="POST")
                with contextlib.suppress(OSError):  # answered or refused, it was made
                    urllib.request.urlopen(request, timeout=30).close()

        threads = [threading.Thread(target=hammer) for _ in range(40)]  # 2 000 unauthenticated requests
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    waitress = [record for record in caplog.records if record.name.startswith("waitress")]
    assert len(waitress) <= 4, [record.getMessage() for record in waitress]


def test_the_log_filter_lets_one_record_a_minute_through_with_a_count() -> None:
    now = [1000.0]
    log_filter = RateLimitedLog(window_seconds=60, clock=lambda: now[0])

    def record(depth: int) -> logging.LogRecord:
        return logging.LogRecord("waitress.queue", logging.WARNING, __file__, 1, "Task queue depth is %d", (depth,),
                                 None)

    passed = [log_filter.filter(entry := record(n)) for n in range(463)]
    assert passed.count(True) == 1 and passed[0]
    now[0] += 61
    assert log_filter.filter(entry := record(7))
    assert entry.getMessage() == "Task queue depth is 7 (462 more like it in the last 60 s not logged)"
