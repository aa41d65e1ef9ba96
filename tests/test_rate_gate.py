"""Retry-After holds back every worker of the platform, from the moment the answer is received.

A 429 (or a 503 naming its wait) closes the destination's gate inside ``http.send``, before the
client parses anything; each request checks the gate just before it leaves. The engine test holds
three requests at the platform while the fourth is answered 429, keeps the thread that received
the 429 busy "parsing" it, then lets the other three answers go: their threads go on to their next
rows at once, which is exactly when a request used to slip out. Only the simulator's arrival log
decides (no durations are measured); the "parsing" ends early as soon as any new request arrives.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.core import http
from sync_daemon.core.gate import GateClosed, SendGate
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators import GoTrackSimulator
from sync_daemon.simulators.base import ADMIN_PREFIX
from sync_daemon.simulators.orders import make_order

CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
WORKERS = 4
RETRY_AFTER = 2
PARSING = 0.5  # how long the thread that got the 429 stays on it, unless a request gets out


# -- the gate and http.send --------------------------------------------------------------------


def test_a_closed_gate_refuses_until_the_wait_is_over_and_never_shortens_it():
    now = [100.0]
    gate = SendGate(clock=lambda: now[0])
    gate.check("GoTrack")  # open
    gate.close_for(10)
    gate.close_for(2)  # a shorter wait from another answer does not reopen it early
    with pytest.raises(GateClosed) as refused:
        gate.check("GoTrack")
    assert refused.value.retry_after == pytest.approx(10) and refused.value.http_status == 429
    now[0] += 9.9
    with pytest.raises(GateClosed):
        gate.check("GoTrack")
    now[0] += 0.2
    gate.check("GoTrack")  # open again once the longer wait is over


@pytest.mark.parametrize(
    ("fault", "closes_for"),
    [
        ({"kind": "rate_limit", "retry_after": 7}, 7),
        ({"kind": "rate_limit", "retry_after": 0}, 0),
        ({"kind": "status", "status": 503}, 0),  # a 503 without Retry-After names no wait
    ],
)
def test_http_send_closes_the_gate_on_the_answer_itself(gotrack, fault, closes_for):
    gotrack.add_fault(**fault, count=1)
    session = http.build_session(headers={"Content-Type": "application/json"})
    gate = SendGate()
    try:
        response = http.send(session, "POST", gotrack.endpoint, platform="GoTrack", json={}, gate=gate)
        assert response.status_code in (429, 503)
        if closes_for:
            with pytest.raises(GateClosed) as refused:
                gate.check("GoTrack")
            assert refused.value.retry_after == pytest.approx(closes_for, abs=0.5)
            with pytest.raises(GateClosed):
                http.send(session, "POST", gotrack.endpoint, platform="GoTrack", json={}, gate=gate)
            assert gotrack.stats()["total"] == 1  # the refused request never left
    finally:
        session.close()


# -- three workers mid-flight while the fourth gets the 429 ------------------------------------


class HeldGoTrack(GoTrackSimulator):
    """GoTrack that logs arrivals, holds the first four requests until all four are in, answers the
    first one ``status`` (with Retry-After), and the other three only once told to."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status
        self.arrivals: list[float] = []  # time.time() of each request's arrival, in order
        self.limited_at: float | None = None  # when the 429/503 answer was written
        self.release = threading.Event()
        self._arrived = threading.Condition()

    def _serve(self, handler, request):
        if request.path.startswith(ADMIN_PREFIX):
            return super()._serve(handler, request)
        with self._arrived:
            index = len(self.arrivals)
            self.arrivals.append(time.time())
            self._arrived.notify_all()
            self._arrived.wait_for(lambda: len(self.arrivals) >= WORKERS, timeout=10)
        if index == 0:
            response = self.error_response(self.status, "Too Many Requests", "rate_limited")
            response.headers["Retry-After"] = str(RETRY_AFTER)
            self._record(request, self.status, "held")
            self.limited_at = time.time()
            handler.write_response(response, self.json_content_type)
            return None
        if index < WORKERS:
            self.release.wait(10)
        return super()._serve(handler, request)

    def wait_for_arrival_after(self, count: int, timeout: float) -> None:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.arrivals) > count, timeout=timeout)


def engine_for(woocommerce, gotrack, state):
    data = {
        "state_dir": str(state),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "delivery": {"retry_schedule_seconds": [0.2], "retry_jitter": 0},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret, "concurrency": WORKERS},
    }
    ledger = SqliteLedger.open(state)
    engine = build_engine(Settings.model_validate(data), ledger, threading.Event())
    engine.startup()
    return engine, ledger


@pytest.mark.parametrize("status", [429, 503])
def test_no_request_leaves_after_the_wait_is_asked_for_until_it_is_over(woocommerce, tmp_path, status):
    woocommerce.add_orders([make_order(n + 1, created=CREATED + timedelta(seconds=n)) for n in range(20)])
    with HeldGoTrack(status) as gotrack:
        engine, ledger = engine_for(woocommerce, gotrack, tmp_path)
        destination = engine.destinations["gotrack"]
        parse = destination._raise_for_status

        def slow_to_parse(response):
            if response.status_code == status:
                # The other three answers go out now, while this thread is still on the 429:
                # their threads take their next rows at once. Any request that gets out ends this.
                gotrack.release.set()
                gotrack.wait_for_arrival_after(WORKERS, timeout=PARSING)
            return parse(response)

        destination._raise_for_status = slow_to_parse
        try:
            first = engine.sync_pass()
            time.sleep(RETRY_AFTER + 1.0)  # the wait the platform asked for, then deliver the rest
            second = engine.sync_pass()
            states = ledger.summary()["counts"]["gotrack"]
        finally:
            engine.close()
            ledger.close()
        limited_at = gotrack.limited_at
        arrivals = list(gotrack.arrivals)
        held = gotrack.requests_by_external_id()
    assert limited_at is not None
    during_the_wait = [at for at in arrivals if limited_at <= at < limited_at + RETRY_AFTER]
    assert during_the_wait == [], f"{len(during_the_wait)} request(s) arrived during the Retry-After wait"
    # The three held requests landed; the limited one and the rows held back went out after the wait,
    # each order once (the limited request never reached GoTrack's handler).
    assert first.delivered == WORKERS - 1
    assert second.delivered == 20 - (WORKERS - 1)
    assert {state: count for state, count in states.items() if count} == {"delivered": 20}
    assert held == {f"woocommerce:{n}": 1 for n in range(1, 21)}
