"""The daemon's service parts on a shared PostgreSQL ledger: /metrics and /healthz read it, a restart is survived."""

from __future__ import annotations

import itertools

import pytest

from sync_daemon.core.errors import LedgerUnavailable
from sync_daemon.ledger import open_postgres
from sync_daemon.service.health import Health
from sync_daemon.service.metrics import LedgerView, Metrics
from tests.conftest import POSTGRES_PASSWORD
from tests.contract.ledger import NOW, item, send_all

_shops = itertools.count(1)


@pytest.fixture
def ledger(postgres_url):
    opened = open_postgres(postgres_url, shop_id=f"service-{next(_shops)}", password=POSTGRES_PASSWORD)
    yield opened
    opened.close()


def test_metrics_read_a_shared_ledger_through_its_pool(ledger):
    ledger.ingest([item(1), item(2)], now=NOW)
    send_all(ledger)
    ledger.ingest([item(3)], now=NOW)
    metrics = Metrics()
    metrics.watch(LedgerView.of_store(ledger))
    text = metrics.render().decode()
    assert 'sync_daemon_deliveries{platform="a",state="delivered"} 2.0' in text
    assert 'sync_daemon_deliveries{platform="a",state="pending"} 1.0' in text
    assert "sync_daemon_ledger_bytes" in text and POSTGRES_PASSWORD not in text


def test_health_names_an_unreachable_database_and_recovers_after_a_restart(ledger, postgres_server):
    health = Health(ledger.write_problem, lambda: 60.0, lambda: NOW, clock=lambda: NOW + 1)
    assert health.check()[0] is True
    postgres_server.stop()
    try:
        healthy, details = health.check()
        assert healthy is False and "ledger not writable" in details["reasons"][0]
        with pytest.raises(LedgerUnavailable, match="unreachable"):
            ledger.summary()
    finally:
        postgres_server.start()
    # The pool replaces the connections the restart broke: the next query works, nothing to reopen.
    ledger.ingest([item(9)], now=NOW)
    assert ledger.delivery(9, "a")["state"] == "pending"
    assert health.check()[0] is True


def test_status_shows_the_shared_ledger_and_its_daemons_without_the_password(postgres_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sync_daemon.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path}"\n[woocommerce]\nurl = "https://status-shop.example"\n'
        f'[ledger]\nurl = "{postgres_url}"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("SYNC_DAEMON_LEDGER__PASSWORD", POSTGRES_PASSWORD)
    leader = open_postgres(postgres_url, shop_id="status-shop.example", password=POSTGRES_PASSWORD)
    follower = open_postgres(postgres_url, shop_id="status-shop.example", password=POSTGRES_PASSWORD)
    try:
        import time

        for ledger in (leader, follower):
            ledger.daemon_started(now=time.time())
        assert leader.try_lead()
        leader.daemon_heartbeat(now=time.time(), leads=True, interval=5)
        leader.ingest([item(1)], now=NOW)
        result = CliRunner().invoke(main, ["status", "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert "Daemons sharing this ledger" in result.output
        assert "leader" in result.output and "delivers" in result.output
        assert "(shop status-shop.example)" in result.output and POSTGRES_PASSWORD not in result.output
        as_json = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
        assert len(__import__("json").loads(as_json.output)["daemons"]) == 2
    finally:
        leader.close()
        follower.close()
