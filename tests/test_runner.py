"""The daemon's schedule follows its settings, at start and on every reload."""

from __future__ import annotations

import signal

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.service.runner import POLL_JOB, WRITEBACK_JOB, Daemon, status_job


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
    for number, handler in handlers.items():
        signal.signal(number, handler)


def reschedule(daemon, new):
    """As a reload does: a new engine on the new settings, then the jobs that follow from it."""
    daemon.engine.close()
    daemon.engine = build_engine(new, daemon.ledger, daemon.stop_event)
    daemon._schedule(new)


def jobs(daemon):
    return {job.id: job.trigger.interval.total_seconds() for job in daemon.scheduler.get_jobs()}


def test_jobs_are_added_rescheduled_and_removed_as_settings_change(tmp_path, daemon):
    daemon._schedule(daemon.settings)
    assert jobs(daemon) == {POLL_JOB: 60}

    orderrepo = {"enabled": True, "api_key": "k", "status_pull_interval_seconds": 30}
    tracktor = {"enabled": True, "uuid": "u", "api_key": "k", "poll_interval_seconds": 90}
    reschedule(daemon, settings(tmp_path, poll_interval_seconds=20, orderrepo=orderrepo, tracktor=tracktor))
    assert jobs(daemon) == {POLL_JOB: 20, status_job("orderrepo"): 30, status_job("tracktor"): 90, WRITEBACK_JOB: 120}

    # Write-back switched off and Tracktor gone: their jobs go, the status pull stays.
    reschedule(daemon, settings(tmp_path, poll_interval_seconds=20, orderrepo=orderrepo, writeback={"enabled": False}))
    assert jobs(daemon) == {POLL_JOB: 20, status_job("orderrepo"): 30}


def test_a_queued_write_back_does_nothing_once_it_is_switched_off(tmp_path, daemon, monkeypatch):
    ran = []
    monkeypatch.setattr(daemon, "_guarded", lambda what, job: ran.append(what))
    daemon._write_back()
    assert ran == ["write-back"]
    daemon.engine.settings = settings(tmp_path, writeback={"enabled": False})
    daemon._write_back()
    assert ran == ["write-back"]
