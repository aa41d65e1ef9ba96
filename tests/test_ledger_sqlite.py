"""The SQLite ledger: the shared contract on a real file, and what only SQLite has (WAL, file mode, user_version)."""

import os
import sqlite3
import stat
import threading

import pytest

from sync_daemon.ledger import SCHEMA_VERSION, Ledger, canonical_json
from tests.contract.ledger import NOW, LedgerContract, item, send_all


class TestSqliteLedger(LedgerContract):
    @pytest.fixture
    def make_ledger(self, tmp_path):
        """Opens ``ledger.sqlite3`` in the test's directory (the same file at every call)."""
        return lambda: Ledger.open(tmp_path)


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


def test_a_new_ledger_is_readable_by_its_owner_only(tmp_path):
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


def test_payloads_are_stored_as_one_canonical_text_whoever_writes_them(tmp_path):
    # Ingest, resync and absorb each write a payload; the stored bytes must not depend on which.
    ledger = Ledger.open(tmp_path)
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
