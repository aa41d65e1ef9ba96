"""Receipts and rejection notes written into the simulated shop: batched, once, never sent on."""

from __future__ import annotations

import json
import threading

import pytest

from sync_daemon.config import WritebackSettings
from sync_daemon.core.order import Order
from sync_daemon.core.outcome import IngestItem, Mapped, Outcome
from sync_daemon.engine.receipts import ReceiptWriter, note_text, receipt_key
from sync_daemon.ledger import SqliteLedger
from sync_daemon.platforms.shopback.fields import parse_field_spec
from sync_daemon.simulators.orders import make_order
from tests.test_woocommerce_source import source_for

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
LANES = {"gotrack": ("gotrack", "GoTrack"), "orderrepo": ("orderrepo", "OrderRepo"),
         "orderrepo-event-created": ("orderrepo", "OrderRepo")}
BATCH = ("POST", "/wp-json/wc/v3/orders/batch")


@pytest.fixture
def ledger(tmp_path):
    ledger = SqliteLedger.open(tmp_path)
    yield ledger
    ledger.close()


@pytest.fixture
def shop(woocommerce):
    source = source_for(woocommerce)
    yield source
    source.close()


def writer(ledger, shop, **rules):
    return ReceiptWriter(WritebackSettings(**rules), ledger, shop, LANES, clock=lambda: NOW,
                         stop_event=threading.Event())


def record(ledger, order_ids, destination="gotrack", kind="delivered", **fields):
    """Orders recorded and sent to one destination with one outcome each, as the engine records them."""
    ledger.ingest([IngestItem(order_id, str(order_id), "m", "processing", [Mapped(destination, {"id": order_id})])
                   for order_id in order_ids], now=NOW)
    due = ledger.due(destination, now=NOW, limit=10_000)
    ledger.mark_sending(due, now=NOW)
    ledger.record([Outcome(d.order_id, destination, kind, d.operation, payload_hash=d.payload_hash, **fields)
                   for d in due], now=NOW)


def meta(woocommerce, order_id):
    return [(entry["key"], entry["value"]) for entry in woocommerce.get_order(order_id)["meta_data"]
            if entry["key"].startswith("sync_daemon_")]


def test_receipts_go_in_batches_of_100_orders_with_every_platform_of_an_order(woocommerce, ledger, shop):
    woocommerce.add_orders([make_order(order_id) for order_id in range(1, 251)])
    record(ledger, range(1, 251), remote_id="305")
    record(ledger, [7], destination="orderrepo", remote_id="7")
    record(ledger, [7], destination="orderrepo-event-created", remote_id="e1")  # an event: no receipt
    assert writer(ledger, shop).run() == {"notes": 0, "receipts": 251}
    assert woocommerce.count(*BATCH) == 3
    assert meta(woocommerce, 7) == [("sync_daemon_gotrack", "GoTrack #305 · 2027-01-15 08:00 UTC"),
                                    ("sync_daemon_orderrepo", "OrderRepo #7 · 2027-01-15 08:00 UTC")]
    assert ledger.outbox_counts() == {}
    assert writer(ledger, shop).run() == {"notes": 0, "receipts": 0}  # written once
    assert woocommerce.count(*BATCH) == 3


def test_a_batch_written_again_leaves_one_receipt_per_platform(woocommerce, ledger, shop):
    woocommerce.add_orders([make_order(1)])
    record(ledger, [1], remote_id="305")
    writer(ledger, shop).run()
    with ledger.transaction() as connection:  # the ledger forgets, as after a kill before its commit
        connection.execute("UPDATE outbox SET written_at = NULL")
    writer(ledger, shop).run()
    assert woocommerce.count(*BATCH) == 2
    assert meta(woocommerce, 1) == [("sync_daemon_gotrack", "GoTrack #305 · 2027-01-15 08:00 UTC")]


def test_an_order_gone_from_the_shop_does_not_hold_up_the_others(woocommerce, ledger, shop):
    woocommerce.add_orders([make_order(1), make_order(3)])
    record(ledger, [1, 2, 3], remote_id="9")  # order 2 was deleted meanwhile
    assert writer(ledger, shop).run()["receipts"] == 2
    assert ledger.outbox_counts() == {}
    assert meta(woocommerce, 3) == [("sync_daemon_gotrack", "GoTrack #9 · 2027-01-15 08:00 UTC")]


def test_a_shop_that_fails_keeps_everything_queued(woocommerce, ledger, shop, captured_logs):
    woocommerce.add_orders([make_order(1)])
    record(ledger, [1], remote_id="9")
    woocommerce.add_fault("status", status=503, path="/orders/batch", count=1)
    assert writer(ledger, shop).run()["receipts"] == 0
    assert ledger.outbox_counts() == {"receipt": 1}
    [line] = [json.loads(line) for line in captured_logs.getvalue().splitlines() if "not written" in line]
    assert line["queued"] == {"receipt": 1} and "503" in line["error"]
    assert writer(ledger, shop).run()["receipts"] == 1


def test_receipts_off_writes_nothing_and_empties_the_queue(woocommerce, ledger, shop):
    woocommerce.add_orders([make_order(1)])
    record(ledger, [1], remote_id="9")
    assert writer(ledger, shop, receipts=False).run()["receipts"] == 0
    assert woocommerce.count(*BATCH) == 0 and meta(woocommerce, 1) == []
    assert ledger.outbox_counts() == {}


def test_a_rejection_adds_one_private_note_naming_the_platform_reason_and_remedy(woocommerce, ledger, shop,
                                                                                 captured_logs):
    woocommerce.add_orders([make_order(1), make_order(2)])
    ledger.ingest([IngestItem(1, "1", "m", "processing", [Mapped("gotrack", None, rejection="no phone number")])],
                  now=NOW)
    record(ledger, [2], destination="orderrepo", kind="rejected", message="HTTP 422: phone is invalid")
    assert writer(ledger, shop).run()["notes"] == 2
    assert writer(ledger, shop).run()["notes"] == 0
    [first] = [note for note in woocommerce.notes(1) if "sync-daemon" in note["note"]]
    assert first["customer_note"] is False
    assert first["note"] == ("sync-daemon could not send this order to GoTrack: no phone number. Fix this in the"
                             " order and save it: the order is sent again by itself.")
    assert [note["note"] for note in woocommerce.notes(2)][-1].startswith(
        "OrderRepo refused this order: HTTP 422: phone is invalid.")
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    lines = [line for line in lines if line.get("event") in ("order rejected", "delivery given up")]
    # The mapping's rejection is logged here; the platform's was logged when its answer was recorded.
    assert [(line["event"], line["order_id"], line["destination"], line["reason"]) for line in lines] == [
        ("order rejected", 1, "gotrack", "no phone number")]


def test_a_note_begun_before_a_crash_is_not_added_twice(woocommerce, ledger, shop):
    woocommerce.add_orders([make_order(1)])
    record(ledger, [1], kind="rejected", message="HTTP 422: no address")
    [entry] = ledger.unwritten(("rejected",), orders=10)
    shop.add_note(1, note_text(entry, "GoTrack"))  # the note went out …
    ledger.outbox_begun([entry])  # … and the daemon died before it recorded so
    writer(ledger, shop).run()
    assert [note["note"] for note in woocommerce.notes(1)].count(note_text(entry, "GoTrack")) == 1
    assert ledger.outbox_counts() == {}


def test_the_daemons_own_meta_is_never_part_of_an_order_a_mapping_sees(wc_order):
    with_receipt = {**wc_order, "meta_data": [*wc_order.get("meta_data", []),
                                             {"id": 1, "key": receipt_key("gotrack"), "value": "GoTrack #305"}]}
    order = Order.from_wc(with_receipt)
    assert receipt_key("gotrack") not in order.meta
    assert order == Order.from_wc(wc_order)
    assert parse_field_spec(f"meta:{receipt_key('gotrack')}")(order) is None  # ShopBack's extra_fields see nothing
