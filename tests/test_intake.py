"""The runner's reconcile job and the listener's place in the daemon's start (settings → jobs, exit 2)."""

from __future__ import annotations

import signal
import socket

import pytest

from sync_daemon.config import Settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.service.intake import RECONCILE_JOB, Intake
from sync_daemon.service.runner import Daemon


def settings(tmp_path, **sections):
    data = {
        "state_dir": str(tmp_path / "state"),
        "woocommerce": {"url": "http://127.0.0.1:9", "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "gotrack": {"enabled": True, "api_key": "fbc_x", "api_secret": "s"},
        **sections,
    }
    return Settings.model_validate(data)


@pytest.fixture
def restore_signals():
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


def test_the_reconcile_job_follows_its_setting(tmp_path):
    intake = Intake(settings(tmp_path))
    assert intake.job(settings(tmp_path))[0::2] == (RECONCILE_JOB, 3600)
    assert intake.job(settings(tmp_path))[3] is True
    off = settings(tmp_path, woocommerce={"url": "http://127.0.0.1:9", "consumer_key": "ck_x",
                                          "consumer_secret": "cs_x", "reconcile_interval_seconds": 0})
    assert intake.job(off)[3] is False


def test_the_daemon_schedules_the_sweep(tmp_path, restore_signals):
    daemon = Daemon(settings(tmp_path), None)
    try:
        daemon._schedule(daemon.settings)
        job = daemon.scheduler.get_job(RECONCILE_JOB)
        assert job.trigger.interval.total_seconds() == 3600
    finally:
        daemon.engine.close()
        daemon.ledger.close()
        daemon.lock.release()


def test_a_port_in_use_refuses_the_daemon_before_the_ledger_opens(tmp_path, restore_signals):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match="cannot listen"):
            Daemon(settings(tmp_path, server={"enabled": True, "listen": f"127.0.0.1:{port}"}), None)
    assert not (tmp_path / "state" / "ledger.sqlite3").exists()
