"""The cursor of a quiet HPOS shop moves past the orders the daemon's own writes re-dated, on the shop's clock.

The simulated shop's clock and the source's monotonic clock are both real time plus one shared
shift, so a test moves time on both sides at once and waits for nothing.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.engine.receipts import ReceiptWriter
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import make_order
from sync_daemon.source.shop_clock import MARGIN, ShopClock
from tests.test_woocommerce_source import source_for

LIST = ("GET", "/wp-json/wc/v3/orders")
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
ORDERS = 300


@pytest.fixture
def storage_mode() -> str:
    """HPOS: every save, the daemon's receipts included, re-dates the order."""
    return "hpos"


@pytest.fixture
def shop(woocommerce, gotrack, tmp_path):
    """An engine after a backfill of 300 orders to GoTrack, their receipts written: (engine, ledger, shift)."""
    shift = [0.0]  # seconds both clocks are moved ahead of real time
    woocommerce.clock = lambda: time.time() + shift[0]
    woocommerce.add_orders([make_order(index, created=CREATED + timedelta(seconds=10 * index))
                            for index in range(1, ORDERS + 1)])
    data = {
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret, "per_page": 20},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret},
    }
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(Settings.model_validate(data), ledger, threading.Event())
    engine.source.shop_clock.monotonic = lambda: time.monotonic() + shift[0]
    engine.startup()
    try:
        assert engine.sync_pass().delivered == ORDERS
        assert ReceiptWriter.of(engine).run()["receipts"] == ORDERS  # every order re-dated to the shop's now
        yield engine, ledger, shift
    finally:
        engine.close()
        ledger.close()


def written_at(woocommerce) -> datetime:
    """The newest modification in the shop: the receipts' write."""
    return max(datetime.fromisoformat(woocommerce.get_order(i)["date_modified_gmt"]).replace(tzinfo=UTC)
               for i in woocommerce.order_ids())


def shop_time(woocommerce) -> datetime:
    return datetime.fromtimestamp(woocommerce.clock(), UTC)


def test_later_passes_no_longer_reread_the_orders_the_receipts_redated(woocommerce, shop):
    engine, ledger, shift = shop
    shift[0] += 200  # more than the overlap passes, in the shop and here alike
    read_back = engine.sync_pass()  # the written orders are read back once: an edit may hide among them
    assert read_back.fetched >= ORDERS and read_back.unchanged >= ORDERS and read_back.delivered == 0
    for _ in range(3):
        shift[0] += 60
        lists, started = woocommerce.count(*LIST), shop_time(woocommerce)
        later = engine.sync_pass()
        assert (later.fetched, later.source_error) == (0, None)
        assert woocommerce.count(*LIST) - lists <= 1
        # The cursor moved on the shop's clock, never past it.
        assert written_at(woocommerce) < ledger.get_cursor() <= started - MARGIN


def test_orders_modified_after_the_cursor_moved_are_read_even_just_behind_it(woocommerce, shop):
    engine, ledger, shift = shop
    shift[0] += 200
    engine.sync_pass()
    shift[0] += 60
    engine.sync_pass()
    cursor = ledger.get_cursor()
    assert cursor > written_at(woocommerce) + timedelta(seconds=150)  # moved past the writes
    for order_id, stamp in ((7, None),  # an edit now
                            (8, cursor - timedelta(seconds=1)),  # a save stamped within the margin behind it
                            (9, cursor - timedelta(seconds=100))):  # one committed late, within the overlap
        dates = {} if stamp is None else {"date_modified_gmt": stamp.strftime("%Y-%m-%dT%H:%M:%S")}
        woocommerce.edit_order(order_id, customer_note=f"edit {order_id}", **dates)
    shift[0] += 5
    assert engine.sync_pass().fetched == 3  # those three, and not the 300 re-dated by the receipts
    recorded = {order_id: modified for order_id, (modified, _) in ledger.known_orders([7, 8, 9]).items()}
    assert recorded == {order_id: woocommerce.get_order(order_id)["date_modified_gmt"] for order_id in (7, 8, 9)}


def test_a_pass_that_fails_or_stops_midway_does_not_move_the_cursor_past_the_writes(woocommerce, shop):
    engine, ledger, shift = shop
    shift[0] += 200
    written = written_at(woocommerce)
    after_first_page = []

    def fail_next_page():
        if not after_first_page:
            after_first_page.append(True)
            woocommerce.add_fault("status", status=503, method="GET", path="/orders$", count=1)

    engine.on_progress = fail_next_page
    assert "503" in engine.sync_pass().source_error
    assert ledger.get_cursor() <= written
    engine.on_progress = engine.stop_event.set  # stopped after its first page
    engine.sync_pass()
    assert ledger.get_cursor() <= written
    engine.stop_event.clear()
    engine.on_progress = lambda: None
    assert engine.sync_pass().fetched >= ORDERS  # read to the end: now the cursor passes the writes
    assert ledger.get_cursor() > written


def test_the_estimate_counts_whole_seconds_since_the_answer_arrived_less_the_margin():
    now = [100.0]
    clock = ShopClock(monotonic=lambda: now[0])
    assert clock.estimate() is None  # no write answered yet
    clock.note([{"id": 1, "error": {"code": "x"}}, {"id": 2}])  # nothing dated: no reading
    assert clock.estimate() is None
    clock.note([{"id": 1, "date_modified_gmt": "2026-12-07T10:00:00"},
                {"id": 2, "date_modified_gmt": "2026-12-07T10:00:01.900000"}, {"id": 3, "error": {}}])
    now[0] = 100.9
    assert clock.estimate() == datetime(2026, 12, 7, 9, 59, 59, tzinfo=UTC)  # 10:00:01, rounded down, − 2 s
    now[0] = 161.5
    assert clock.estimate() == datetime(2026, 12, 7, 10, 1, 0, tzinfo=UTC)
    now[0] = 100 + 3601
    assert clock.estimate() is None  # too old to trust the two clocks to run alike


def test_a_status_write_answer_is_a_reading_of_the_shops_clock(woocommerce):
    woocommerce.clock = lambda: time.time() + 3600  # the shop's clock is an hour ahead of this machine's
    woocommerce.add_orders([make_order(1, created=CREATED)])
    source = source_for(woocommerce)
    try:
        source.update_order(1, {"status": "completed"})
        estimate = source.shop_clock.estimate()
    finally:
        source.close()
    assert estimate is not None
    # On the shop's clock (an hour ahead), never past it; the lower bound only needs to tell the two clocks apart.
    assert shop_time(woocommerce) - timedelta(seconds=600) < estimate <= shop_time(woocommerce) - MARGIN
