"""What a person reads from the CLI (issue 30 point 7): one test per message, the real CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sync_daemon.config import DEFAULT_CONFIG_PATH
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import make_order
from tests.contract.ledger import NOW, item

from .harness import cli_env, run_cli, write_config


def words(text):
    """The text with every run of whitespace as one space (help and tables wrap lines)."""
    return " ".join(text.split())


def test_no_arguments_prints_the_help_and_exits_0():
    result = run_cli()
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and "Commands:" in result.stdout


def test_the_top_level_help_does_not_cut_descriptions():
    result = run_cli("--help")
    assert "..." not in result.stdout.split("Commands:")[1]
    assert "Remove delivered, rejected and dead orders older than the retention window (the daemon does it hourly)." \
        in words(result.stdout)


@pytest.mark.skipif(DEFAULT_CONFIG_PATH.exists(), reason="this machine has the default config file")
@pytest.mark.parametrize("command", ["run", "check-config"])
def test_a_missing_default_config_file_is_named(command):
    result = run_cli(command, timeout=30)
    assert result.returncode == 2
    assert f"no configuration file at {DEFAULT_CONFIG_PATH} — copy config.example.toml there" in result.stderr
    assert "or pass --config" in result.stderr


def test_connect_does_not_speak_of_a_file_that_does_not_exist(tmp_path):
    new = tmp_path / "new.toml"
    result = subprocess.run([sys.executable, "-m", "sync_daemon", "connect", "gotrack", "--config", str(new),
                             "--no-test"], input="https://gotrack.example.com/api\n", capture_output=True,
                            text=True, timeout=60, env=cli_env())
    assert result.returncode == 2
    assert "gotrack.api_key" in result.stderr
    assert "new.toml" not in result.stderr


def test_resync_separates_the_verdict_from_the_reason(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders([make_order(7001, billing={"phone": ""}, shipping={"phone": ""})])
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    result = run_cli("resync", "7001", config=config)
    assert result.returncode == 1
    assert "gotrack: rejected — the order has no customer phone number" in result.stdout


def test_writeback_dry_run_prints_a_summary_instead_of_a_line_per_unchanged_order(tmp_path, woocommerce, orderrepo):
    woocommerce.add_orders([make_order(7002)])
    config = write_config(tmp_path / "config.toml", woocommerce, orderrepo=orderrepo)
    assert run_cli("resync", "7002", config=config).returncode == 0  # OrderRepo holds it, in status "new"
    result = run_cli("writeback", "--dry-run", config=config)
    assert result.returncode == 0, result.stderr
    assert "order 7002" not in result.stdout  # nothing would change for it
    assert "1 order with news from a platform: 0 would change, 1 need nothing" in result.stdout


@pytest.fixture
def paused_ledger(tmp_path):
    """A relative state_dir holding a ledger with a delivery queued and a destination paused."""
    ledger = SqliteLedger.open(tmp_path / "state")
    try:
        ledger.ingest([item(1, dest="gotrack")], now=NOW)
        ledger.pause_destination("gotrack", kind="outage", reason="HTTP 503 three times", until=4e9, now=NOW)
    finally:
        ledger.close()
    (tmp_path / "config.toml").write_text('state_dir = "state"\n')
    return tmp_path


def run_in(directory, *args):
    """The CLI run from ``directory`` (a relative state_dir is relative to it)."""
    return subprocess.run([sys.executable, "-m", "sync_daemon", *args, "--config", "config.toml"], cwd=directory,
                          capture_output=True, text=True, timeout=60, env=cli_env())


def test_status_says_where_and_each_thing_once(paused_ledger):
    result = run_in(paused_ledger, "status")
    assert result.returncode == 0, result.stderr
    assert f"ledger: {paused_ledger / 'state' / 'ledger.sqlite3'}" in result.stdout  # absolute
    assert "last poll: never\n" in result.stdout  # not "never (never)"
    assert result.stdout.count("HTTP 503 three times") == 1  # the pause, not again as the last error


def test_status_json_gives_every_time_in_iso_and_the_pause_end_once(paused_ledger):
    summary = json.loads(run_in(paused_ledger, "status", "--json").stdout)
    gotrack = summary["destinations"]["gotrack"]
    assert "paused_until" not in gotrack
    assert gotrack["paused_until_at"].startswith("2096-")
    history = json.loads(run_in(paused_ledger, "status", "1", "--json").stdout)
    assert history["deliveries"][0]["queued_at"].startswith("2027-01-15T08:00:00")


def test_prune_dry_run_speaks_of_the_size_now(paused_ledger):
    (paused_ledger / "config.toml").write_text('state_dir = "state"\n[ledger]\nretention_days = 30\n')
    result = run_in(paused_ledger, "prune", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "MiB now; pruning frees room inside it" in result.stdout
    assert "MiB before" not in result.stdout
