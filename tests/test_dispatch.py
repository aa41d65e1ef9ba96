"""Deliveries in flight during a pass: a slow or dead platform holds up neither the other platform
nor the reading of WooCommerce, and every request that comes back counts as progress.

In-process simulators and a real SQLite ledger; the pass runs on a thread of its own while the test
looks at what the platforms hold. Nothing here measures time: only what had arrived where, when.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import make_order

ORIGIN = "https://shop.example.com"  # the Origin the orderrepo fixture allows (tests/conftest.py)
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def wait_until(condition, timeout=30.0):
    """Poll until true (a bound against a hang, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def sims(woocommerce, gotrack, orderrepo):
    """The shared simulators (tests/conftest.py), the shop holding 60 orders."""
    woocommerce.add_orders([make_order(n + 1, created=CREATED + timedelta(seconds=n)) for n in range(60)])
    return woocommerce, gotrack, orderrepo


def engine_for(sims, state, *, timeout=5.0, progress=lambda: None):
    woocommerce, gotrack, orderrepo = sims
    data = {
        "state_dir": str(state),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret, "per_page": 20},
        "delivery": {"retry_schedule_seconds": [600], "retry_jitter": 0, "batch_size": 20,
                     "outage_pause_seconds": 600},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret, "timeout_seconds": timeout, "concurrency": 2},
        "orderrepo": {"enabled": True, "base_url": orderrepo.url, "api_key": orderrepo.api_key, "origin": ORIGIN,
                      "fallback_image_url": f"{ORIGIN}/placeholder.png"},
    }
    ledger = SqliteLedger.open(state)
    engine = build_engine(Settings.model_validate(data), ledger, threading.Event(), progress)
    engine.startup()
    return engine, ledger


def test_a_slow_platform_holds_up_neither_the_other_nor_the_reading(sims, tmp_path):
    woocommerce, gotrack, orderrepo = sims
    gotrack.add_fault("slow", delay=0.25)  # every request: 20 per batch over 2 threads take ≥ 2.5 s
    engine, ledger = engine_for(sims, tmp_path)
    seen_by_gotrack = []
    try:
        worker = threading.Thread(target=engine.sync_pass)
        worker.start()
        while len(orderrepo.orders()) < 60 and worker.is_alive():
            time.sleep(0.02)
        seen_by_gotrack.append(len(gotrack.orders()))
        worker.join(timeout=60)
    finally:
        engine.close()
        ledger.close()
    assert len(orderrepo.orders()) == 60
    # All three pages were read and went out to OrderRepo while GoTrack was still on its first batch.
    assert seen_by_gotrack[0] < 20
    assert woocommerce.count("GET", "/wp-json/wc/v3/orders") >= 3
    assert len(gotrack.orders()) == 60  # and the pass still finished GoTrack's work before it ended


def test_every_answer_is_in_the_ledger_while_the_next_requests_are_out(sims, tmp_path):
    _, gotrack, _ = sims
    gotrack.add_fault("slow", delay=0, count=5)  # five quick confirmations …
    gotrack.add_fault("slow", delay=1.0)  # … then each answer takes a second: requests stay out
    engine, ledger = engine_for(sims, tmp_path)  # GoTrack: 2 worker threads, rows read 20 at a time

    def recorded_while_out():
        # While the two threads wait for answers, the ledger knows every order GoTrack confirmed,
        # and 'sending' is exactly the requests out: a kill now would send those two again, no more.
        stored = len(gotrack.orders())
        states = ledger.summary()["counts"].get("gotrack", {})
        return stored >= 5 and states.get("delivered") == stored and states.get("sending") == 2

    try:
        worker = threading.Thread(target=engine.sync_pass)
        worker.start()
        seen = wait_until(recorded_while_out)
        engine.stop_event.set()  # the rest would take half a minute; what is out comes back first
        worker.join(timeout=60)
        states = ledger.summary()["counts"]["gotrack"]
    finally:
        engine.close()
        ledger.close()
    assert seen
    assert states["delivered"] == len(gotrack.orders()) and states["sending"] == 0


def test_a_dead_platform_is_paused_after_a_run_of_failures_not_timed_out_row_by_row(sims, tmp_path):
    _, gotrack, orderrepo = sims
    gotrack.add_fault("timeout", delay=5)
    progress = []
    engine, ledger = engine_for(sims, tmp_path, timeout=0.3, progress=lambda: progress.append(1))
    try:
        summary = engine.sync_pass()
        record = ledger.destination("gotrack")
        states = ledger.summary()["counts"]
    finally:
        engine.close()
        ledger.close()
    assert len(orderrepo.orders()) == 60
    assert record["pause_kind"] == "outage" and "8 requests in a row failed" in record["pause_reason"]
    # Only the requests up to the pause went out; the other rows wait, no attempt counted.
    assert 8 <= summary.retrying <= 8 + 1  # with 2 threads, one more may have been on its way
    assert states["gotrack"]["pending"] == 60 - summary.retrying
    assert len(progress) >= 60 + summary.retrying  # every request that came back was progress


def test_an_order_edited_while_its_request_is_out_is_recorded_after_it_and_updated(sims, tmp_path):
    woocommerce, _, orderrepo = sims
    orderrepo.add_fault("slow", delay=0.1)
    edited = []
    ledgers = []

    def edit_once_its_create_is_out():
        # Called on the pass thread after each page (and on worker threads per request, ignored
        # here). From page 2 on, the runners have order 5's create: once its row is no longer
        # pending, the edit moves order 5 to the end of the list, where this same pass reads it
        # again while its create is out (or just back).
        if edited or threading.current_thread() is not threading.main_thread() or not ledgers:
            return
        if woocommerce.count("GET", "/wp-json/wc/v3/orders") < 2:
            return
        assert wait_until(lambda: ledgers[0].delivery(5, "orderrepo")["state"] != "pending")
        edited.append(woocommerce.edit_order(5, customer_note="please call before delivery"))

    engine, ledger = engine_for(sims, tmp_path, progress=edit_once_its_create_is_out)
    ledgers.append(ledger)
    try:
        engine.sync_pass()
        row = ledger.delivery(5, "orderrepo")
    finally:
        engine.close()
        ledger.close()
    assert edited
    stored = orderrepo.order("5")
    assert (stored["track_requests"], stored["update_requests"]) == (1, 1)
    assert {"name": "Customer note", "value": "please call before delivery"} in stored["payload"]["data"]
    assert row["state"] == "delivered" and row["operation"] == "update"


def fake_dispatch(lost=(), budget_seconds=None, count=6, send_seconds=0.0):
    """A dispatcher over six rows of destination ``a`` with in-memory lanes; returns the order ids sent."""
    from sync_daemon.core.outcome import Due, Outcome
    from sync_daemon.core.workers import WorkerPool
    from sync_daemon.engine.dispatch import Dispatcher, Lanes

    waiting = [Due(n, "a", "create", 0, {"id": n}, f"h{n}", None) for n in range(1, count + 1)]
    sent, lock = [], threading.Lock()

    def due(_name, limit):
        with lock:
            taken, waiting[:] = waiting[:limit], waiting[limit:]
            return taken

    def send(row):
        time.sleep(send_seconds)
        with lock:
            sent.append(row.order_id)
        return Outcome(row.order_id, "a", "delivered", "create", payload_hash=row.payload_hash)

    pool = WorkerPool(2, "test")
    dispatcher = Dispatcher(Lanes(
        names=["a"], concurrency={"a": 2}, due=due, send=send,
        record=lambda _outcomes, sending: [row for row in sending if row.order_id in lost],
        submit=lambda _name, run: pool.submit(run), paused=lambda _name: None, halted=lambda _name: False,
        tally=lambda _counts: None, stop_event=threading.Event(), batch_size=3, on_progress=lambda: None,
        budget_seconds=budget_seconds,
    ))
    dispatcher.drain()
    pool.shutdown()
    return sorted(sent)


def test_a_row_whose_sending_mark_did_not_take_is_never_sent():
    # A shared ledger: another daemon took rows 2 and 4 between our read and our mark.
    assert fake_dispatch(lost=(2, 4)) == [1, 3, 5, 6]
    assert fake_dispatch() == [1, 2, 3, 4, 5, 6]


def test_a_pass_with_a_budget_takes_no_row_after_it():
    # A deliver-only pass: two runners, 50 ms a request, 120 ms of budget: about 3 rounds, never all 40.
    sent = fake_dispatch(budget_seconds=0.12, count=40, send_seconds=0.05)
    assert 2 <= len(sent) < 40
    assert fake_dispatch(budget_seconds=0) == []
