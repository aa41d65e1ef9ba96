"""The daemon's schedule follows its settings, at start and on every reload."""

from __future__ import annotations

import os
import signal

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.core.files import StateDirectoryInUse
from sync_daemon.service.runner import POLL_JOB, PRUNE_JOB, RECEIPTS_JOB, WRITEBACK_JOB, Daemon, status_job


def settings(tmp_path, **sections):
    data = {
        "state_dir": str(tmp_path / "state"),
        "woocommerce": {"url": "http://127.0.0.1:9", "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "gotrack": {"enabled": True, "api_key": "fbc_x", "api_secret": "s"},
        **sections,
    }
    return Settings.model_validate(data)


@pytest.fixture
def daemon(tmp_path):
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    daemon = Daemon(settings(tmp_path), None)
    yield daemon
    daemon.engine.close()
    daemon.ledger.close()
    daemon.lock.release()
    for number, handler in handlers.items():
        signal.signal(number, handler)


def reschedule(daemon, new):
    """As a reload does: a new engine on the new settings, then the jobs that follow from it."""
    daemon.engine.close()
    daemon.engine = build_engine(new, daemon.ledger, daemon.stop_event)
    daemon._schedule(new)


def jobs(daemon):
    # The reconcile sweep's job has its own test (tests/test_intake.py).
    scheduled = [job for job in daemon.scheduler.get_jobs() if job.id != "reconcile"]
    return {job.id: job.trigger.interval.total_seconds() for job in scheduled}


def test_jobs_are_added_rescheduled_and_removed_as_settings_change(tmp_path, daemon):
    daemon._schedule(daemon.settings)
    assert jobs(daemon) == {POLL_JOB: 60, RECEIPTS_JOB: 60, PRUNE_JOB: 3600}

    orderrepo = {"enabled": True, "api_key": "k", "status_pull_interval_seconds": 30}
    tracktor = {"enabled": True, "uuid": "u", "api_key": "k", "poll_interval_seconds": 90}
    reschedule(daemon, settings(tmp_path, poll_interval_seconds=20, orderrepo=orderrepo, tracktor=tracktor,
                                ledger={"prune_interval_seconds": 600}))
    assert jobs(daemon) == {POLL_JOB: 20, RECEIPTS_JOB: 20, status_job("orderrepo"): 30, status_job("tracktor"): 90,
                            WRITEBACK_JOB: 120, PRUNE_JOB: 600}

    # Write-back and retention switched off and Tracktor gone: their jobs go, the status pull stays.
    reschedule(daemon, settings(tmp_path, poll_interval_seconds=20, orderrepo=orderrepo, writeback={"enabled": False},
                                ledger={"retention_days": 0}))
    assert jobs(daemon) == {POLL_JOB: 20, RECEIPTS_JOB: 20, status_job("orderrepo"): 30}

    # Receipts and notes are the daemon's own: they follow the poll interval whatever write-back does.
    reschedule(daemon, settings(tmp_path, gotrack={"enabled": False}, ledger={"retention_days": 0}))
    assert jobs(daemon) == {POLL_JOB: 60}  # nothing delivered, nothing to write


def test_a_queued_write_back_does_nothing_once_it_is_switched_off(tmp_path, daemon, monkeypatch):
    ran = []
    monkeypatch.setattr(daemon, "_guarded", lambda what, job: ran.append(what))
    daemon._write_back()
    assert ran == ["write-back"]
    daemon.engine.settings = settings(tmp_path, writeback={"enabled": False})
    daemon._write_back()
    assert ran == ["write-back"]


def test_a_second_daemon_on_the_same_state_directory_refuses_to_start(tmp_path, daemon):
    with pytest.raises(StateDirectoryInUse) as refused:
        Daemon(settings(tmp_path), None)
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and str(tmp_path / "state") in message
    daemon.lock.release()  # the first one stopped: the next one starts
    second = Daemon(settings(tmp_path), None)
    second.engine.close()
    second.ledger.close()
    second.lock.release()


def test_the_prune_job_removes_old_finished_orders_between_passes(tmp_path, daemon, monkeypatch):
    from sync_daemon.core.outcome import IngestItem, Mapped
    from tests.contract.ledger import DAY, NOW, finished

    long_ago = NOW - 100 * DAY
    finished(daemon.ledger, 1, dests=("gotrack",), at=long_ago)
    daemon.ledger.ingest([IngestItem(2, "2", "m2", "processing", [Mapped("gotrack", {"id": "2"})])], now=long_ago)
    monkeypatch.setattr(daemon.engine, "clock", lambda: NOW)
    logged = []
    monkeypatch.setattr("sync_daemon.service.runner.log.info", lambda event, **fields: logged.append((event, fields)))
    daemon._prune()
    assert daemon.ledger.order_history(1) is None
    assert daemon.ledger.order_history(2) is not None  # still open: pending, and processing in the shop
    assert logged[0][0] == "ledger pruned" and logged[0][1]["orders"] == 1
    assert logged[0][1]["deliveries"] == {"delivered": 1}
