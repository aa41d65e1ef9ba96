"""The ledger's state machine, on a real SQLite file."""

import sqlite3
import threading

import pytest

from sync_daemon.ledger import SCHEMA_VERSION, IngestItem, Ledger, Mapped, Outcome

NOW = 1_800_000_000.0


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger.open(tmp_path, retry_schedule=[5, 300, 1800], jitter=0)
    yield ledger
    ledger.close()


def item(order_id=1, modified="2026-11-20T10:00:00", payload=None, rejection=None, supports_update=True, dest="a"):
    payload = payload if payload is not None or rejection else {"id": str(order_id), "total": 100}
    return IngestItem(order_id, str(order_id), modified, "processing",
                      [Mapped(dest, payload, rejection=rejection, supports_update=supports_update)])


def send_all(ledger, dest="a", kind="delivered", now=NOW, **fields):
    due = ledger.due(dest, now=now, limit=100)
    ledger.mark_sending(due, now=now)
    ledger.record([Outcome(d.order_id, d.destination, kind, d.operation, payload_hash=d.payload_hash, **fields)
                   for d in due], now=now)
    return due


def state(ledger, order_id=1, dest="a"):
    return ledger.delivery(order_id, dest)["state"]


def test_new_file_has_schema_version_and_wal(tmp_path):
    ledger = Ledger.open(tmp_path / "nested")
    assert ledger.schema_version() == SCHEMA_VERSION
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.close()


def test_refuses_a_ledger_from_a_newer_version(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(RuntimeError, match="newer than this sync-daemon"):
        Ledger(path)


def test_new_order_is_pending_then_delivered(ledger):
    assert ledger.ingest([item()], now=NOW) == {"new": 1, "changed": 0, "rejected": 0, "unchanged": 0, "skipped": 0}
    assert state(ledger) == "pending"
    send_all(ledger, remote_id="318")
    row = ledger.delivery(1, "a")
    assert (row["state"], row["remote_id"], row["attempts"]) == ("delivered", "318", 1)


def test_rereading_the_same_order_changes_nothing(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger)
    assert ledger.ingest([item(modified="2026-11-20T10:05:00")], now=NOW)["unchanged"] == 1
    assert state(ledger) == "delivered"
    assert ledger.due("a", now=NOW + 10, limit=10) == []


def test_changed_order_after_delivery_goes_out_as_one_update(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger)
    ledger.ingest([item(payload={"id": "1", "total": 200})], now=NOW)
    due = ledger.due("a", now=NOW, limit=10)
    assert [(d.order_id, d.operation) for d in due] == [(1, "update")]


def test_changed_order_on_a_platform_without_update_is_only_noted(ledger):
    ledger.ingest([item(supports_update=False)], now=NOW)
    send_all(ledger)
    ledger.ingest([item(payload={"id": "1", "total": 200}, supports_update=False)], now=NOW)
    row = ledger.delivery(1, "a")
    assert row["state"] == "delivered"
    assert "no update API" in row["note"]


def test_retry_schedule_then_dead(ledger):
    ledger.ingest([item()], now=NOW)
    now = NOW
    for expected_delay in (5, 300, 1800):
        send_all(ledger, kind="retry", now=now, message="HTTP 503")
        row = ledger.delivery(1, "a")
        assert row["state"] == "retrying"
        assert row["next_attempt_at"] == pytest.approx(now + expected_delay)
        assert ledger.due("a", now=now + expected_delay - 1, limit=10) == []
        now += expected_delay
    send_all(ledger, kind="retry", now=now, message="HTTP 503")
    row = ledger.delivery(1, "a")
    assert row["state"] == "dead"
    assert row["last_error"] == "gave up after 4 attempts; last error: HTTP 503"


def test_retry_after_is_honoured_when_longer(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger, kind="retry", retry_after=120, message="429")
    assert ledger.delivery(1, "a")["next_attempt_at"] == pytest.approx(NOW + 120)


def test_paused_outcome_does_not_count_an_attempt(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger, kind="paused", retry_after=3600, message="401")
    row = ledger.delivery(1, "a")
    assert (row["state"], row["attempts"]) == ("pending", 0)
    assert row["next_attempt_at"] == pytest.approx(NOW + 3600)


def test_rejected_order_comes_back_when_it_changes(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger, kind="rejected", message="422 phone invalid")
    assert state(ledger) == "rejected"
    assert ledger.ingest([item()], now=NOW)["unchanged"] == 1  # same payload: stays rejected
    ledger.ingest([item(payload={"id": "1", "total": 150})], now=NOW)
    assert state(ledger) == "pending"


def test_local_rejection_is_recorded_with_its_reason(ledger):
    ledger.ingest([item(rejection="the order has no customer phone number")], now=NOW)
    row = ledger.delivery(1, "a")
    assert (row["state"], row["last_error"]) == ("rejected", "the order has no customer phone number")
    history = ledger.order_history(1)
    assert history["attempts"][0]["outcome"] == "rejected"


def test_interrupted_sending_rows_are_recovered(ledger):
    ledger.ingest([item(1), item(2)], now=NOW)
    ledger.mark_sending(ledger.due("a", now=NOW, limit=10), now=NOW)
    assert ledger.recover_interrupted(now=NOW + 1) == 2
    assert [d.order_id for d in ledger.due("a", now=NOW + 1, limit=10)] == [1, 2]


def test_destinations_are_independent(ledger):
    ledger.ingest([IngestItem(1, "1", "m", "processing", [Mapped("a", {"x": 1}), Mapped("b", {"y": 1})])], now=NOW)
    send_all(ledger, dest="a")
    assert state(ledger, dest="a") == "delivered"
    assert state(ledger, dest="b") == "pending"


def test_cursor_only_moves_forward(ledger):
    from datetime import UTC, datetime

    later = datetime(2026, 11, 20, 10, tzinfo=UTC)
    ledger.set_cursor(later)
    ledger.set_cursor(datetime(2026, 11, 19, tzinfo=UTC))
    assert ledger.get_cursor() == later


def test_pause_and_fingerprint_change_lifts_it(ledger):
    assert ledger.note_fingerprint("a", "one", now=NOW) is False
    ledger.pause_destination("a", kind="auth", reason="401", until=NOW + 3600, now=NOW)
    assert ledger.destination("a")["pause_kind"] == "auth"
    assert ledger.note_fingerprint("a", "one", now=NOW) is False
    assert ledger.destination("a")["pause_kind"] == "auth"
    assert ledger.note_fingerprint("a", "two", now=NOW) is True
    assert ledger.destination("a")["paused_until"] is None


def test_lifted_pause_makes_the_rows_it_parked_due_now(ledger):
    ledger.note_fingerprint("a", "one", now=NOW)
    ledger.ingest([item(1), item(2)], now=NOW)
    send_all(ledger, kind="retry", message="503")  # order rows with a backoff of their own
    ledger.ingest([item(3)], now=NOW)
    ledger.pause_destination("a", kind="auth", reason="401", until=NOW + 3600, now=NOW)
    send_all(ledger, kind="paused", message="401", retry_after=3600)
    assert ledger.due("a", now=NOW + 1, limit=10) == []
    assert ledger.note_fingerprint("a", "two", now=NOW + 1) is True
    # The parked row goes out now; the rows backing off after a 503 keep their own schedule.
    assert [due.order_id for due in ledger.due("a", now=NOW + 1, limit=10)] == [3]


def test_new_settings_without_a_pause_move_no_row(ledger):
    ledger.note_fingerprint("a", "one", now=NOW)
    ledger.ingest([item(1)], now=NOW)
    send_all(ledger, kind="skipped", retry_after=600)  # a throttle, which new settings do not cure
    ledger.pause_destination("a", kind="throttle", reason="429", until=NOW + 600, now=NOW)
    assert ledger.note_fingerprint("a", "two", now=NOW) is True
    assert ledger.destination("a")["pause_kind"] == "throttle"
    assert ledger.due("a", now=NOW + 1, limit=10) == []


def test_resync_prepares_a_rejected_row_for_sending(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger, kind="rejected", message="422")
    to_send = ledger.prepare_resync(item(), now=NOW)
    assert [(d.order_id, d.operation) for d in to_send] == [(1, "create")]
    assert state(ledger) == "sending"


def test_summary_counts(ledger):
    ledger.ingest([item(1), item(2), item(3, rejection="no phone")], now=NOW)
    send_all(ledger)
    summary = ledger.summary()
    assert summary["counts"]["a"]["delivered"] == 2
    assert summary["counts"]["a"]["rejected"] == 1


def test_skipped_rows_are_counted_and_come_alive_when_the_order_qualifies(ledger):
    skipped = IngestItem(1, "1", "m1", "processing", [Mapped("a", None, rejection="no click id", skipped=True)])
    assert ledger.ingest([skipped], now=NOW)["skipped"] == 1
    assert state(ledger) == "skipped"
    assert ledger.summary()["counts"]["a"]["skipped"] == 1
    assert ledger.order_history(1)["attempts"] == []  # skipping is not an error
    ledger.ingest([item(modified="m2")], now=NOW)
    assert state(ledger) == "pending"


def test_connector_can_cap_attempts_below_the_schedule(ledger):
    ledger.ingest([item()], now=NOW)
    send_all(ledger, kind="retry", message="odd answer", max_attempts=2)
    assert state(ledger) == "retrying"
    send_all(ledger, kind="retry", now=NOW + 10, message="odd answer", max_attempts=2)
    assert state(ledger) == "dead"


def test_a_new_ledger_is_readable_by_its_owner_only(tmp_path):
    import os
    import stat

    previous = os.umask(0o022)  # the usual umask outside systemd, which would make files 0644
    try:
        ledger = Ledger.open(tmp_path)
        ledger.ingest([item()], now=NOW)
        files = list(tmp_path.glob("ledger.sqlite3*"))
        assert len(files) == 3  # the database, its WAL and its shared-memory index
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        ledger.close()
    finally:
        os.umask(previous)


def test_opening_waits_for_a_writer_instead_of_failing(tmp_path):
    # A daemon writing while `status` opens a ledger that is not WAL yet: SQLite refuses the
    # journal-mode switch at once, whatever the busy timeout; opening must wait for the writer.
    path = tmp_path / "ledger.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE other (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO other VALUES (1)")
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        ledger = Ledger(path)
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger.schema_version() == SCHEMA_VERSION
        ledger.close()
    finally:
        release.join()
        writer.close()


def test_a_ledger_error_reaches_the_merchant_as_one_line(capsys):
    from sync_daemon.cli import EXIT_FAILED, friendly_errors

    @friendly_errors
    def status():
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(SystemExit) as exited:
        status()
    assert exited.value.code == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database is locked" in err and "Traceback" not in err
