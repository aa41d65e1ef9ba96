"""Write-back rules without HTTP: forward only, once, never against a human."""

from types import SimpleNamespace

import pytest

from sync_daemon.config import Settings
from sync_daemon.ledger import IngestItem, Ledger, Mapped
from sync_daemon.writeback import StatusWriter, aggregate_shipment, may_move

NOW = 1_800_000_000.0


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
    ledger = Ledger.open(tmp_path)
    ledger.ingest([IngestItem(1, "1", "m", "processing", [Mapped("orderrepo", {"id": "1"})])], now=NOW)
    engine = SimpleNamespace(settings=Settings.model_validate({}), ledger=ledger, source=None, clock=lambda: NOW)
    yield StatusWriter(engine)
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
    assert [c["remote_status"] for c in ledger.writeback_candidates()] == ["done"]
    ledger.record_writeback(1, [{"source": "orderrepo", "remote_status": "done", "action": "x"}],
                            written_status="completed", now=NOW)
    assert ledger.writeback_candidates() == []
    assert ledger.written_status(1) == "completed"


def test_ledger_upgrades_a_version_1_file(tmp_path):
    import sqlite3

    from sync_daemon.ledger import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(MIGRATIONS[1])
    connection.execute("INSERT INTO orders (order_id, modified, first_seen_at, last_seen_at) VALUES (1, 'm', 'a', 'b')")
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    ledger = Ledger(path)
    assert ledger.schema_version() == SCHEMA_VERSION
    assert ledger.known_modified([1]) == {1: "m"}
    assert ledger.written_status(1) is None
    ledger.close()
