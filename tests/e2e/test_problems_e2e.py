"""``sync-daemon problems``, what ``status`` prints of stored texts and of a pass in progress: the real CLI."""

from __future__ import annotations

import json
import re

import pytest

from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import generate_orders
from tests.contract.ledger import NOW, item, send_one

from .harness import Daemon, run_cli, wait_until, write_config

# A platform's own words with brackets: rich would read them as markup (MarkupError, or a vanishing tag).
BRACKETED = "unknown key [/items/0/sku]"
STYLED = "the [bold]phone[/bold] field is empty"


@pytest.fixture
def config(tmp_path):
    """A config whose state_dir holds a ledger with a rejected, a dead, a retrying and a delivered order."""
    state = tmp_path / "state"
    ledger = SqliteLedger.open(state)
    try:
        ledger.ingest([item(1, rejection=STYLED, dest="gotrack")], now=NOW)
        ledger.ingest([item(order_id, dest="gotrack") for order_id in (2, 3, 4)], now=NOW)
        send_one(ledger, 2, "retry", NOW + 10, dest="gotrack", message="HTTP 503", max_attempts=1)
        send_one(ledger, 3, "retry", NOW + 20, dest="gotrack", message=BRACKETED)
        send_one(ledger, 4, "delivered", NOW + 30, dest="gotrack")
    finally:
        ledger.close()
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{state}"\n')
    return path


def test_problems_lists_the_orders_newest_first_with_the_reason_as_plain_text(config):
    result = run_cli("problems", config=config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if "(#" in line]
    assert [row.split()[1] for row in rows] == ["3", "2", "1"]  # newest first
    assert BRACKETED in result.stdout  # as it came, not read as markup
    assert STYLED in result.stdout
    assert "retrying" in rows[0] and "dead" in rows[1] and "rejected" in rows[2]


def test_problems_json_and_filters(config):
    rows = json.loads(run_cli("problems", "--json", "--state", "dead", "--state", "rejected", config=config).stdout)
    assert [(row["order_id"], row["state"], row["attempts"]) for row in rows] == [(2, "dead", 1), (1, "rejected", 0)]
    assert rows[0]["last_error"] == "gave up after 1 attempts; last error: HTTP 503"
    other = json.loads(run_cli("problems", "--json", "--destination", "orderrepo", config=config).stdout)
    assert other == []
    since = json.loads(run_cli("problems", "--json", "--since", "2030-01-01", config=config).stdout)
    assert since == []


def test_problems_never_creates_a_ledger(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{tmp_path / "nowhere"}"\n')
    result = run_cli("problems", config=path)
    assert result.returncode == 1
    assert f"no ledger at {tmp_path / 'nowhere' / 'ledger.sqlite3'}" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_status_prints_bracketed_texts_as_they_are_and_points_at_problems(config):
    summary = run_cli("status", config=config)
    assert summary.returncode == 0, summary.stderr
    assert BRACKETED in summary.stdout  # the destination's last error
    assert "1 rejected, 1 dead, 1 retrying: see `sync-daemon problems`" in summary.stdout
    for order_id, text in ((3, BRACKETED), (1, STYLED)):
        history = run_cli("status", str(order_id), config=config)
        assert history.returncode == 0, history.stderr
        assert "Traceback" not in history.stderr
        assert text in " ".join(history.stdout.split())  # a table cell may wrap; the words stay


def test_status_shows_a_long_first_sync_in_progress(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(30, seed=3, start_id=8000))
    # Three slow pages, then a page that hangs far longer than the test waits: the pass is in
    # progress for as long as the test looks, however busy the machine.
    woocommerce.add_fault("slow", method="GET", path="/orders$", delay=1.5, count=3)
    woocommerce.add_fault("slow", method="GET", path="/orders$", delay=120)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, **{"woocommerce.per_page": "5",
                                                                             "woocommerce.timeout_seconds": "200"})
    daemon = Daemon(config, tmp_path / "daemon.log")

    def progress():
        result = run_cli("status", "--json", config=config)
        return json.loads(result.stdout).get("pass_progress") if result.returncode == 0 else None

    try:
        assert wait_until(lambda: progress() is not None, timeout=60, interval=0.5)
        stored = progress()
        assert (stored["total"], stored["backfill"]) == (30, True)
        assert 5 <= stored["read"] <= 15
        shown = " ".join(run_cli("status", config=config).stdout.split())
        assert re.search(r"pass in progress since \S+: backfill: \d+ of 30 read, \d+ delivered", shown)
    finally:
        daemon.kill()
