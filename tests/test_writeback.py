"""Write-back rules without HTTP: forward only, once, never against a human."""

from __future__ import annotations

import threading

import pytest

from sync_daemon.app import build_status_writer
from sync_daemon.config import Settings
from sync_daemon.engine.writeback import StatusWriter, may_move
from sync_daemon.ledger import IngestItem, Mapped, SqliteLedger
from sync_daemon.platforms import ShopContext
from sync_daemon.platforms.orderrepo import OrderRepoStatuses
from sync_daemon.platforms.tracktor import TracktorTracking, aggregate_shipment

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


NOW = 1_800_000_000.0
SOURCES = {"delivery_sources": ("orderrepo",), "tracking_sources": ("tracktor",)}  # write-back labels


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [("processing", "completed", True), ("on-hold", "processing", True), ("pending", "cancelled", True),
     ("processing", "cancelled", True), ("completed", "processing", False), ("completed", "cancelled", False),
     ("refunded", "completed", False), ("cancelled", "completed", False), ("processing", "on-hold", False),
     ("processing", "processing", False), ("processing", "my-custom", False)],
)
def test_statuses_only_move_forward(current, target, allowed):
    assert may_move(current, target) is allowed


def test_shipment_status_is_the_least_advanced_fulfillment():
    assert aggregate_shipment(["delivered", "in_transit"]) == "in_transit"
    assert aggregate_shipment(["delivered", "delivered"]) == "delivered"
    assert aggregate_shipment([None]) is None


@pytest.fixture
def writer(tmp_path):
    ledger = SqliteLedger.open(tmp_path)
    ledger.ingest([IngestItem(1, "1", "m", "processing", [Mapped("orderrepo", {"id": "1"})])], now=NOW)
    settings = Settings.model_validate({
        "orderrepo": {"enabled": True, "api_key": "k"},
        "tracktor": {"enabled": True, "uuid": "u", "api_key": "k"},
    })
    sources = [OrderRepoStatuses(settings.orderrepo, ShopContext()), TracktorTracking(settings.tracktor)]
    writer = StatusWriter(settings.writeback, ledger, None, sources, remap=lambda raw: None, clock=lambda: NOW,
                          stop_event=threading.Event())
    yield writer
    for source in sources:
        source.close()
    ledger.close()


def candidate(status, source="orderrepo", **extra):
    return {"order_id": 1, "source": source, "remote_status": status, **extra}


def test_done_completes_with_a_note(writer):
    plan = writer.plan(1, [candidate("done")], "processing")
    assert plan.status_after == "completed"
    assert plan.notes == ["OrderRepo: done"]


def test_unmapped_status_only_adds_a_note(writer):
    plan = writer.plan(1, [candidate("processing")], "processing")
    assert plan.status_after is None and plan.notes == ["OrderRepo: processing"]


def test_initial_new_status_is_not_news(writer):
    plan = writer.plan(1, [candidate("new")], "processing")
    assert plan.notes == [] and plan.entries[0]["action"] == "nothing to do"


def test_a_completed_order_is_not_reopened_or_cancelled(writer):
    plan = writer.plan(1, [candidate("cancelled")], "completed")
    assert plan.status_after is None
    assert "not moved back" in plan.entries[0]["action"]


def test_a_human_change_after_our_write_is_respected(writer):
    writer.ledger.record_writeback(1, [], written_status="completed", now=NOW)
    plan = writer.plan(1, [candidate("delivered", source="tracktor")], "processing")
    assert plan.status_after is None
    assert "staff changed it to processing" in plan.entries[0]["action"]
    assert plan.notes == ["Tracktor: delivered"]


def test_a_human_change_before_any_write_of_ours_is_respected(writer):
    # Recorded as processing; staff put it on hold (a problem with the order); OrderRepo says done.
    plan = writer.plan(1, [candidate("done")], "on-hold")
    assert plan.status_after is None
    assert "staff changed it to on-hold after the daemon took the order" in plan.entries[0]["action"]
    assert plan.notes == ["OrderRepo: done"]


def test_a_step_forward_by_staff_is_no_veto(writer):
    writer.ledger.ingest([IngestItem(2, "2", "m", "on-hold", [Mapped("orderrepo", {"id": "2"})])], now=NOW)
    # A bank transfer: recorded on hold, marked processing by staff once paid, then done in OrderRepo.
    plan = writer.plan(2, [{**candidate("done"), "order_id": 2}], "processing")
    assert plan.status_after == "completed"


def test_the_first_status_stays_the_reference_while_the_order_is_read_again(writer):
    writer.ledger.ingest([IngestItem(1, "1", "m2", "on-hold", [Mapped("orderrepo", {"id": "1", "x": 1})])], now=NOW)
    assert writer.ledger.status_reference(1) == ("processing", False)


def test_tracktor_note_and_meta_carry_carrier_and_tracking(writer):
    plan = writer.plan(1, [candidate("in_transit", source="tracktor", carrier="Pathao", tracking_number="PX123")],
                       "processing")
    assert plan.notes == ["Tracktor: in_transit — carrier Pathao, tracking PX123"]
    assert plan.meta == {"_sync_daemon_tracking_number": "PX123", "_sync_daemon_carrier": "Pathao"}
    assert plan.status_after is None


def test_exception_status_is_surfaced_as_a_note(writer):
    plan = writer.plan(1, [candidate("exception:undelivered", source="tracktor")], "processing")
    assert plan.notes == ["Tracktor exception: undelivered"]


def test_applied_statuses_are_not_candidates_again(writer):
    ledger = writer.ledger
    ledger.mark_sending(ledger.due("orderrepo", now=NOW, limit=10), now=NOW)
    from sync_daemon.ledger import Outcome

    ledger.record([Outcome(1, "orderrepo", "delivered", "create", payload_hash="h")], now=NOW)
    ledger.update_remote_statuses("orderrepo", [(1, "done", None)], now=NOW)
    assert [c["remote_status"] for c in ledger.writeback_candidates(**SOURCES)] == ["done"]
    ledger.record_writeback(1, [{"source": "orderrepo", "remote_status": "done", "action": "x"}],
                            written_status="completed", now=NOW)
    assert ledger.writeback_candidates(**SOURCES) == []
    assert ledger.status_reference(1) == ("completed", True)


def test_ledger_upgrades_a_version_1_file(tmp_path):
    import sqlite3

    from sync_daemon.ledger import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(";\n".join(MIGRATIONS[1]))
    connection.execute("INSERT INTO orders (order_id, modified, first_seen_at, last_seen_at) VALUES (1, 'm', 'a', 'b')")
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    ledger = SqliteLedger(path)
    assert ledger.schema_version() == SCHEMA_VERSION
    assert ledger.known_modified([1]) == {1: "m"}
    assert ledger.status_reference(1) == (None, False)
    ledger.close()


def test_version_2_orders_get_their_last_seen_status_as_reference(tmp_path):
    import sqlite3

    from sync_daemon.ledger import MIGRATIONS

    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(";\n".join(MIGRATIONS[1]))
    connection.executescript(";\n".join(MIGRATIONS[2]))
    connection.execute("INSERT INTO orders (order_id, modified, status, first_seen_at, last_seen_at)"
                       " VALUES (1, 'm', 'on-hold', 'a', 'b')")
    connection.execute("PRAGMA user_version = 2")
    connection.commit()
    connection.close()
    ledger = SqliteLedger(path)
    assert ledger.status_reference(1) == ("on-hold", False)
    ledger.close()


def test_a_failure_half_way_leaves_nothing_to_write_twice(tmp_path, woocommerce):
    from sync_daemon.app import build_engine
    from sync_daemon.core.errors import RetryableError
    from sync_daemon.simulators.orders import make_order

    woocommerce.add_orders([make_order(1)])
    settings = Settings.model_validate({
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "orderrepo": {"enabled": True, "base_url": "http://127.0.0.1:9", "api_key": "k",
                      "fallback_image_url": "https://shop.example.com/p.png"},
        "tracktor": {"enabled": True, "uuid": "u", "api_key": "k", "order_id_source": "order_id"},
    })
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        ledger.ingest([engine.map_raw(woocommerce.get_order(1))], now=NOW)
        due = ledger.due("orderrepo", now=NOW, limit=10)
        ledger.mark_sending(due, now=NOW)
        from sync_daemon.ledger import Outcome

        ledger.record([Outcome(1, "orderrepo", "delivered", "create", payload_hash=due[0].payload_hash)], now=NOW)
        ledger.update_remote_statuses("orderrepo", [(1, "processing", None)], now=NOW)
        ledger.record_tracking(1, shipment_status="in_transit", exception_status=None, carrier="Pathao",
                               tracking_number="PX1", done=False, now=NOW)
        writer = build_status_writer(engine)
        posted = []
        add_note = writer.shop.add_note

        def second_note_fails(order_id, note, **kwargs):
            if len(posted) == 1:
                posted.append("failed")
                raise RetryableError("WooCommerce: HTTP 503")
            posted.append(note)
            return add_note(order_id, note, **kwargs)

        writer.shop.add_note = second_note_fails
        (plan,) = writer.apply()
        assert plan.error == "WooCommerce: HTTP 503"
        writer.shop.add_note = add_note
        writer.apply()
        notes = [note["note"] for note in woocommerce.notes(1)]
        assert sorted(notes) == ["OrderRepo: processing", "Tracktor: in_transit — carrier Pathao, tracking PX1"]
        assert writer.apply() == []  # everything is applied, each once
    finally:
        engine.close()
        ledger.close()


# -- a status written back is news for the platforms that show it; meta and notes are not ------------


def _delivered(ledger, item):
    """Record an order and deliver every row of it."""
    from sync_daemon.ledger import Outcome

    ledger.ingest([item], now=NOW)
    for mapped in item.mapped:
        (due,) = ledger.due(mapped.destination, now=NOW, limit=10)
        ledger.mark_sending([due], now=NOW)
        ledger.record([Outcome(item.order_id, mapped.destination, "delivered", "create",
                               payload_hash=due.payload_hash)], now=NOW)


def _read_again(status, modified):
    return IngestItem(1, "1", modified, status, [
        Mapped("orderrepo", {"id": "1", "data": [{"name": "WooCommerce status", "value": status}]}),
        Mapped("gotrack", {"id": "1", "status_seen": status}, supports_update=False),
        Mapped("shopback", {"id": "1"}, supports_update=False),
    ])


def test_absorbing_a_status_write_queues_one_update_where_the_payload_shows_it(tmp_path):
    ledger = SqliteLedger.open(tmp_path)
    try:
        _delivered(ledger, _read_again("on-hold", "m1"))
        ledger.absorb(_read_again("completed", "m2"), now=NOW + 1, status_written=True)
        (due,) = ledger.due("orderrepo", now=NOW + 2, limit=10)
        assert due.operation == "update" and due.payload["data"] == [{"name": "WooCommerce status",
                                                                      "value": "completed"}]
        # No update API: not told, and not noted as "changed in WooCommerce after delivery" either.
        gotrack = ledger.delivery(1, "gotrack")
        assert gotrack["state"] == "delivered" and gotrack["note"] is None
        assert gotrack["payload_hash"] == gotrack["delivered_hash"]
        assert ledger.due("gotrack", now=NOW + 2, limit=10) == [] == ledger.due("shopback", now=NOW + 2, limit=10)
        assert ledger.known_modified([1]) == {1: "m2"}  # the next poll does not take it for an edit
    finally:
        ledger.close()


def test_absorbing_meta_or_notes_alone_sends_nothing(tmp_path):
    ledger = SqliteLedger.open(tmp_path)
    try:
        _delivered(ledger, _read_again("on-hold", "m1"))
        ledger.absorb(_read_again("on-hold", "m2"), now=NOW + 1)
        assert all(ledger.due(name, now=NOW + 2, limit=10) == [] for name in ("orderrepo", "gotrack", "shopback"))
        assert ledger.delivery(1, "orderrepo")["state"] == "delivered"
        assert ledger.known_modified([1]) == {1: "m2"}
    finally:
        ledger.close()


def test_a_status_written_back_reaches_orderrepo_once_and_meta_or_notes_do_not(
    tmp_path, woocommerce, gotrack, orderrepo, tracktor
):
    """Against the simulators: Tracktor's shipment steps go back into WooCommerce; only the status
    change (processing → completed) goes out, as exactly one OrderRepo update; GoTrack hears nothing."""
    from datetime import UTC, datetime, timedelta

    from sync_daemon.app import build_engine
    from sync_daemon.simulators.orders import make_order

    woocommerce.add_orders([make_order(9500, created=datetime.now(UTC) - timedelta(hours=1))])
    tracktor.add_order("9500", fulfillments=[{"carrier": "Pathao", "tracking_number": "PX9500",
                                              "shipment_status": "in_transit"}])
    credentials = tracktor.credentials
    settings = Settings.model_validate({
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret},
        "orderrepo": {"enabled": True, "base_url": orderrepo.url, "api_key": orderrepo.api_key,
                      "origin": "https://shop.example.com", "fallback_image_url": "https://shop.example.com/p.png"},
        "tracktor": {"enabled": True, "base_url": credentials["base_url"], "uuid": credentials["uuid"],
                     "api_key": credentials["api_key"], "order_id_source": "order_id"},
    })
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        assert engine.sync_pass().delivered == 2
        gotrack_requests = gotrack.stats()["total"]

        def shipment_step(status=None):
            if status:
                tracktor.advance("9500", status)
            engine.pull_statuses("tracktor")
            build_status_writer(engine).apply()
            return engine.sync_pass()

        shipment_step()  # in_transit: a note and the tracking meta, the status stays processing
        assert woocommerce.get_order(9500)["status"] == "processing"
        assert orderrepo.order("9500")["update_requests"] == 0

        summary = shipment_step("delivered")  # → completed: news for OrderRepo's "WooCommerce status"
        assert woocommerce.get_order(9500)["status"] == "completed"
        assert summary.delivered == 1 and summary.changed == 0  # our own write is not taken for an edit
        stored = orderrepo.order("9500")
        assert stored["update_requests"] == 1
        assert {"name": "WooCommerce status", "value": "completed"} in stored["payload"]["data"]

        engine.sync_pass()
        assert orderrepo.order("9500")["update_requests"] == 1  # once
        assert gotrack.stats()["total"] == gotrack_requests  # no update API: nothing sent
        assert ledger.delivery(9500, "gotrack")["note"] is None
    finally:
        engine.close()
        ledger.close()
