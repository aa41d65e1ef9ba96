"""The SQLite ledger: the shared contract on a real file, and what only SQLite has (WAL, file mode, user_version)."""

import os
import sqlite3
import stat
import threading

import pytest

from sync_daemon.ledger import SCHEMA_VERSION, SqliteLedger, canonical_json
from tests.contract.ledger import NOW, LedgerContract, item, send_all


class TestSqliteLedger(LedgerContract):
    @pytest.fixture
    def make_ledger(self, tmp_path):
        """Opens ``ledger.sqlite3`` in the test's directory (the same file at every call)."""
        return lambda: SqliteLedger.open(tmp_path)


def test_new_file_has_schema_version_and_wal(tmp_path):
    ledger = SqliteLedger.open(tmp_path / "nested")
    assert ledger.schema_version() == SCHEMA_VERSION
    assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ledger.close()


def test_refuses_a_ledger_from_a_newer_version(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(RuntimeError, match="newer than this sync-daemon"):
        SqliteLedger(path)


def test_a_new_ledger_is_readable_by_its_owner_only(tmp_path):
    previous = os.umask(0o022)  # the usual umask outside systemd, which would make files 0644
    try:
        ledger = SqliteLedger.open(tmp_path)
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
        ledger = SqliteLedger(path)
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger.schema_version() == SCHEMA_VERSION
        ledger.close()
    finally:
        release.join()
        writer.close()


def test_payloads_are_stored_as_one_canonical_text_whoever_writes_them(tmp_path):
    # Ingest, resync and absorb each write a payload; the stored bytes must not depend on which.
    ledger = SqliteLedger.open(tmp_path)
    try:
        payload = {"total": 100, "id": "1", "name": "Ränu"}
        ledger.ingest([item(1, payload=payload)], now=NOW)
        ledger.prepare_resync(item(2, payload=payload), now=NOW)
        ledger.ingest([item(3, payload=payload)], now=NOW)
        send_all(ledger)
        absorbed = {**payload, "status": "completed"}
        ledger.absorb(item(3, modified="later", payload=absorbed), now=NOW)
        stored = ledger.db.execute("SELECT payload FROM deliveries ORDER BY order_id").fetchall()
        assert [text for (text,) in stored] == [canonical_json(payload)] * 2 + [canonical_json(absorbed)]
    finally:
        ledger.close()


def test_the_canonical_text_of_a_payload_never_changes():
    # Stored payloads are compared by the hash of this text: another spelling of the same payload
    # would make every order already delivered look edited, and go out again, after an upgrade.
    from decimal import Decimal

    from sync_daemon.ledger.encoding import payload_hash

    payload = {"total": Decimal("1250.50"), "id": "wc-7", "name": "রহিম", "items": [{"b": 2, "a": 1.5}], "ok": None}
    expected = '{"id":"wc-7","items":[{"a":1.5,"b":2}],"name":"রহিম","ok":null,"total":"1250.50"}'
    assert canonical_json(payload) == expected
    assert payload_hash(payload) == "d995b9ffe198946c9b387cac5d8d1547"  # as json.dumps(…) spelled it


def test_a_ledger_error_reaches_the_merchant_as_one_line(capsys):
    from sync_daemon.cli.base import EXIT_FAILED, friendly_errors

    @friendly_errors
    def status():
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(SystemExit) as exited:
        status()
    assert exited.value.code == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "database is locked" in err and "Traceback" not in err


# -- retention: vacuum and file size ------------------------------------------------------

DAY = 86400.0
MONTH = 30 * DAY


def test_a_new_ledger_gives_freed_pages_back_to_the_disk(tmp_path):
    ledger = SqliteLedger.open(tmp_path)
    try:
        assert ledger.auto_vacuum() == "incremental"
    finally:
        ledger.close()


def version_3_file(path, orders=0):
    """A ledger as sync-daemon wrote it before retention: no incremental vacuum, schema version 3."""
    from sync_daemon.ledger import MIGRATIONS

    connection = sqlite3.connect(path)
    for version in (1, 2, 3):
        connection.executescript(";\n".join(MIGRATIONS[version]))
    connection.executemany(
        "INSERT INTO orders (order_id, modified, status, first_seen_at, last_seen_at) VALUES (?, 'm', 'x', 'a', 'b')",
        [(order_id,) for order_id in range(1, orders + 1)],
    )
    connection.execute(
        "INSERT INTO writebacks (order_id, source, remote_status, action, applied_at) VALUES"
        " (1, 'repo', 'new', 'nothing to do', 'a'), (1, 'repo', 'done', 'status processing → completed', 'b')"
    )
    connection.execute("PRAGMA user_version = 3")
    connection.commit()
    connection.close()


def test_upgrading_a_small_ledger_switches_it_to_incremental_vacuum_once(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    version_3_file(path, orders=100)
    ledger = SqliteLedger(path)
    try:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert ledger.auto_vacuum() == "incremental"
        assert ledger.summary()["writebacks"] == 1  # older entries: all but "nothing to do" counted
        assert ledger.summary()["orders_seen"] == 100
    finally:
        ledger.close()


def test_a_big_ledger_is_not_rewritten_at_upgrade_but_by_an_explicit_vacuum(tmp_path, monkeypatch):
    from sync_daemon.ledger import sqlite as store

    monkeypatch.setattr(store, "VACUUM_AT_UPGRADE_MAX_BYTES", 0)
    path = tmp_path / "ledger.sqlite3"
    version_3_file(path, orders=100)
    ledger = SqliteLedger(path)
    try:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert ledger.auto_vacuum() == "none"
        assert ledger.reclaim_space(max_pages=100) == 0  # nothing to give back without it; pages are reused
        ledger.vacuum()
        assert ledger.auto_vacuum() == "incremental"
        assert ledger.summary()["orders_seen"] == 100
    finally:
        ledger.close()


def deliver_month(ledger, month, orders, first_id):
    """``orders`` orders of one simulated month, each delivered to three platforms with one attempt."""
    from sync_daemon.core.outcome import IngestItem, Mapped, Outcome
    from tests.contract.ledger import POLICY

    at = NOW + month * MONTH
    address = "House 12, Road 5, Dhanmondi, Dhaka 1205 — leave at the gate " * 3
    items = [
        IngestItem(order_id, str(order_id), f"m{order_id}", "completed",
                   [Mapped(dest, {"id": str(order_id), "address": address, "items": ["Tea 500 g"] * 4})
                    for dest in ("a", "b", "c")])
        for order_id in range(first_id, first_id + orders)
    ]
    ledger.ingest(items, now=at)
    for dest in ("a", "b", "c"):
        due = ledger.due(dest, now=at, limit=orders)
        ledger.mark_sending(due, now=at)
        ledger.record([POLICY.stamp(Outcome(d.order_id, dest, "delivered", d.operation, payload_hash=d.payload_hash,
                                            remote_id=f"R{d.order_id}"), attempts_before=0) for d in due], now=at)
    return at


def file_size_by_month(tmp_path, retention_days, months=12, orders=250):
    """The ledger file's size after each simulated month, the daemon pruning at the end of each."""
    from sync_daemon.app import prune_ledger
    from sync_daemon.config import Settings

    settings = Settings.model_validate({"state_dir": str(tmp_path), "ledger": {"retention_days": retention_days}})
    ledger = SqliteLedger.open(tmp_path)
    sizes = []
    try:
        for month in range(months):
            at = deliver_month(ledger, month, orders, first_id=1 + month * orders)
            prune_ledger(settings, ledger, now=at + DAY)
            ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone, not the log beside it
            sizes.append(ledger.path.stat().st_size)
        return sizes, ledger.summary()
    finally:
        ledger.close()


def test_with_retention_the_file_stops_growing_after_the_window(tmp_path):
    kept, summary = file_size_by_month(tmp_path / "kept", retention_days=0)
    pruned, pruned_summary = file_size_by_month(tmp_path / "pruned", retention_days=60)
    assert summary["orders_seen"] == 3000 and summary["pruned_orders"] == 0
    # Pruned a day after the last month's orders: that month and the one before stay (60 days).
    assert pruned_summary["orders_seen"] == 500 and pruned_summary["pruned_orders"] == 2500
    assert kept[11] > 2.5 * kept[3]  # without retention it grows with every month
    assert max(pruned[3:]) <= 1.1 * pruned[3]  # with it, flat once the window is full
    assert pruned[11] < kept[11] / 3


def test_pruned_pages_are_given_back_to_the_disk(tmp_path):
    from sync_daemon.app import prune_ledger
    from sync_daemon.config import Settings

    settings = Settings.model_validate({"state_dir": str(tmp_path), "ledger": {"retention_days": 30}})
    ledger = SqliteLedger.open(tmp_path)
    try:
        at = deliver_month(ledger, 0, 1000, first_id=1)
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = ledger.path.stat().st_size
        result = prune_ledger(settings, ledger, now=at + 31 * DAY)
        assert (result.orders, result.deliveries, result.more_left) == (1000, {"delivered": 3000}, False)
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert ledger.path.stat().st_size < full / 5
        assert ledger.free_bytes() == 0
    finally:
        ledger.close()


# -- migrations: each a tuple of statements, never text split on ";" --------------------------------


def with_one_more_migration(monkeypatch, statements):
    """The migrations as shipped, plus one of the test's own as the next version."""
    from sync_daemon.ledger import sqlite as sqlite_module

    version = sqlite_module.SCHEMA_VERSION + 1
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", {**sqlite_module.MIGRATIONS, version: tuple(statements)})
    monkeypatch.setattr(sqlite_module, "SCHEMA_VERSION", version)
    return version


def test_a_migration_with_a_trigger_and_a_semicolon_in_a_literal_is_applied_whole(tmp_path, monkeypatch):
    version = with_one_more_migration(monkeypatch, [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, changes INTEGER NOT NULL DEFAULT 0)",
        "INSERT INTO notes (text) VALUES ('first; second')",
        """CREATE TRIGGER notes_changes AFTER UPDATE OF text ON notes BEGIN
               UPDATE notes SET changes = changes + 1 WHERE id = new.id;
               INSERT INTO meta (key, value) VALUES ('last note change', 'a; b') ON CONFLICT (key) DO NOTHING;
           END""",
    ])
    ledger = SqliteLedger.open(tmp_path)
    try:
        assert ledger.schema_version() == version
        ledger.db.execute("UPDATE notes SET text = 'third' WHERE text = 'first; second'")
        assert ledger.db.execute("SELECT text, changes FROM notes").fetchall() == [("third", 1)]
        assert ledger.db.execute("SELECT value FROM meta WHERE key = 'last note change'").fetchone() == ("a; b",)
    finally:
        ledger.close()


def test_a_migration_that_fails_leaves_nothing_of_itself(tmp_path, monkeypatch):
    SqliteLedger.open(tmp_path).close()  # every shipped version applied
    version = with_one_more_migration(monkeypatch, [
        "CREATE TABLE half_done (id INTEGER PRIMARY KEY)",
        "ALTER TABLE no_such_table ADD COLUMN x TEXT",
    ])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        SqliteLedger.open(tmp_path)
    connection = sqlite3.connect(tmp_path / "ledger.sqlite3")
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == version - 1
        assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    finally:
        connection.close()


def test_the_ledger_connection_runs_only_its_own_settings(tmp_path):
    # sqlite-utils 4.x turned recursive triggers on (and ran its plugins' hooks) on the connection it wrapped.
    ledger = SqliteLedger.open(tmp_path)
    try:
        assert ledger.db.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        assert ledger.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    finally:
        ledger.close()
