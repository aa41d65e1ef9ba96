"""Slow clients against the listener (a bench script, not a test): ``python -m bench.slow_clients``.

N clients on loopback each send a request one byte a second (and connect again when closed, as a
slowloris does) while ``/healthz`` is probed on a new connection every half second. Printed per
server setup: the probes' p50 and max latency and how many got no answer within the probe timeout.
``before``: the listener as it was built until issue 29 (waitress's defaults but a 30 s idle timeout);
``after``: the listener as it is (``service/listener_guard.py``).
``tests/test_listener_guard.py`` drives the same clients with ``SlowClients``.
"""

from __future__ import annotations

import argparse
import http.client
import selectors
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from waitress.server import create_server

from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.service.health import Health
from sync_daemon.service.hints import HintBox
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import Metrics

# A webhook that never ends: headers, then a body far longer than will ever be sent.
TRICKLE = (b"POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100000\r\n\r\n" + b"x" * 100_000)


class SlowClients:
    """``count`` loopback connections, each sending one byte every ``interval`` seconds, until ``stop``.

    A connection the server closes is opened again (counted in ``reconnects``); the whole run ends by
    itself after ``limit_seconds`` whatever happens.
    """

    def __init__(self, address: tuple[str, int], count: int, interval: float = 1.0, limit_seconds: float = 120.0):
        self.address = address
        self.count = count
        self.interval = interval
        self.limit_seconds = limit_seconds
        self.reconnects = 0
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close every connection and wait for the driver thread."""
        self._stop.set()
        self._thread.join(30)

    def _connect(self) -> socket.socket | None:
        try:
            connection = socket.create_connection(self.address, timeout=2)
        except OSError:
            self.refused += 1
            return None
        connection.setblocking(False)
        return connection

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_seconds
        sockets: dict[socket.socket, int] = {}  # socket → bytes of TRICKLE sent
        watcher = selectors.DefaultSelector()
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                while len(sockets) < self.count and not self._stop.is_set():
                    connection = self._connect()
                    if connection is None:
                        break
                    sockets[connection] = 0
                    watcher.register(connection, selectors.EVENT_READ)
                round_started = time.monotonic()
                for connection in list(sockets):
                    try:
                        connection.send(TRICKLE[sockets[connection] : sockets[connection] + 1])
                        sockets[connection] += 1
                    except OSError:
                        self._drop(watcher, sockets, connection)
                # An answer or an end of stream from the server: that connection is over.
                for key, _ in watcher.select(timeout=0):
                    connection = key.fileobj
                    try:
                        data = connection.recv(4096)  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if connection in sockets:
                        self._drop(watcher, sockets, connection)  # type: ignore[arg-type]
                    del data
                self._stop.wait(max(self.interval - (time.monotonic() - round_started), 0.0))
        finally:
            for connection in list(sockets):
                watcher.unregister(connection)
                connection.close()
            watcher.close()

    def _drop(self, watcher: selectors.BaseSelector, sockets: dict[socket.socket, int], connection: socket.socket):
        watcher.unregister(connection)
        connection.close()
        del sockets[connection]
        self.reconnects += 1


def probe(address: tuple[str, int], timeout: float) -> float | None:
    """Seconds a ``GET /healthz`` on a new connection took to be answered, or None (no answer in time)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        connection.getresponse().read()
    except OSError:
        return None
    finally:
        connection.close()
    return time.monotonic() - started


def probes(address: tuple[str, int], count: int, timeout: float, every: float = 0.5) -> list[float | None]:
    """``count`` probes, one every ``every`` seconds (or as soon as the last one ended)."""
    answers = []
    for _ in range(count):
        answers.append(probe(address, timeout))
        time.sleep(every)
    return answers


def listener_app(state: Path) -> ListenerApp:
    """The daemon's listener app with a real health check on a state directory."""
    metrics = Metrics()
    health = Health(state / "ledger.sqlite3", lambda: 60.0, lambda: metrics.last_success_at)
    settings = ServerSettings(enabled=True, listen="127.0.0.1:0", woocommerce_secret="bench-secret")
    return ListenerApp(Routes(lambda: settings, HintBox(), metrics, health))


@contextmanager
def serving(setup: str, state: Path) -> Iterator[tuple[str, int]]:
    """The listener, built as ``setup`` says, serving on a loopback port; yields its address."""
    app = listener_app(state)
    listener = Listener(app, ServerSettings(enabled=True, listen="127.0.0.1:0"))
    if setup == "before":
        listener.server.close()
        listener.server = create_server(
            app, host="127.0.0.1", port=0, threads=4, ident="sync-daemon", max_request_body_size=1_048_576,
            clear_untrusted_proxy_headers=True, channel_timeout=30, expose_tracebacks=False,
        )
        listener.thread = threading.Thread(target=listener.server.run, name="listener", daemon=True)
    listener.start()
    try:
        yield listener.address
    finally:
        listener.stop()


def measure(setup: str, clients: int, count: int, timeout: float, settle: float) -> dict[str, object]:
    """Probe latencies with ``clients`` slow clients against one setup."""
    with tempfile.TemporaryDirectory() as state, serving(setup, Path(state)) as address:
        with SlowClients(address, clients, limit_seconds=settle + count * (timeout + 1) + 30) as slow:
            time.sleep(settle)  # every slow client connected and trickling
            answers = probes(address, count, timeout)
        answered = sorted(a for a in answers if a is not None)
        return {
            "setup": setup,
            "clients": clients,
            "answered": f"{len(answered)}/{count}",
            "p50_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
            "max_ms": round(answered[-1] * 1000, 1) if answered else None,
            "slow_reconnects": slow.reconnects,
        }


def main() -> None:
    """Print the figures of each setup side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=150)
    parser.add_argument("--probes", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a probe waits for its answer")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds the slow clients trickle before probing")
    parser.add_argument("--setup", choices=("before", "after", "both"), default="both")
    options = parser.parse_args()
    setups = ("before", "after") if options.setup == "both" else (options.setup,)
    print(f"{'setup':8} {'clients':>7} {'answered':>9} {'p50 ms':>8} {'max ms':>8} {'reconnects':>10}")
    for setup in setups:
        row = measure(setup, options.clients, options.probes, options.timeout, options.settle)
        print(f"{row['setup']:8} {row['clients']:>7} {row['answered']:>9} {row['p50_ms']!s:>8} {row['max_ms']!s:>8}"
              f" {row['slow_reconnects']:>10}")


if __name__ == "__main__":
    main()
