"""Issue 17: `status` says what is true now, one daemon per ledger, retention (`prune` and its glue)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync_daemon.app import prune_ledger
from sync_daemon.cli import main
from sync_daemon.config import Settings
from sync_daemon.core.files import LOCK_FILE_NAME, StateDirectoryInUse, lock_state_directory
from sync_daemon.core.outcome import IngestItem, Mapped
from sync_daemon.ledger import SqliteLedger
from tests.contract.ledger import DAY, finished


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def config(tmp_path, state):
    path = tmp_path / "config.toml"
    path.write_text(f'state_dir = "{state}"\n[woocommerce]\nstatuses = ["processing", "shipped"]\n')
    path.chmod(0o600)
    return path


def cli(config, *args):
    result = CliRunner().invoke(main, [*args, "--config", str(config)])
    return result


# -- status: what is true now ----------------------------------------------------------------


def test_status_no_longer_shows_a_pause_that_has_ended(config, state):
    ledger = SqliteLedger.open(state)
    now = time.time()
    ledger.pause_destination("gotrack", kind="throttled", reason="rate limited (429); waiting 2 s", until=now - 60,
                             now=now - 62)
    ledger.pause_destination("orderrepo", kind="auth", reason="credentials rejected", until=now + 3600, now=now)
    ledger.close()
    text = cli(config, "status").output
    assert "gotrack: PAUSED" not in text
    assert "gotrack: last error at" in text and "rate limited (429)" in text  # what happened is still said
    assert "orderrepo: PAUSED (auth) until 20" in text and "credentials rejected" in text
    data = json.loads(cli(config, "status", "--json").output)
    assert data["destinations"]["gotrack"]["paused"] is False
    assert data["destinations"]["gotrack"]["pause_kind"] is None
    assert data["destinations"]["orderrepo"]["paused"] is True
    assert data["destinations"]["orderrepo"]["pause_kind"] == "auth"


def test_status_counts_only_write_backs_that_changed_an_order(config, state):
    ledger = SqliteLedger.open(state)
    ledger.ingest([IngestItem(order_id, str(order_id), "m", "processing", [Mapped("orderrepo", {"id": 1})])
                   for order_id in range(1, 11)], now=time.time())
    for order_id in range(1, 10):  # nine runs that only learnt "new": nothing was written
        ledger.record_writeback(order_id, [{"source": "orderrepo", "remote_status": "new",
                                            "action": "nothing to do", "note": None}], written_status=None,
                                now=time.time())
    ledger.record_writeback(10, [{"source": "orderrepo", "remote_status": "done",
                                  "action": "status processing → completed", "note": "OrderRepo: done"}],
                            written_status="completed", now=time.time())
    ledger.close()
    assert "(statuses set, notes added): 1" in cli(config, "status").output
    assert json.loads(cli(config, "status", "--json").output)["writebacks"] == 1


# -- retention: the glue and the command -----------------------------------------------------


def old_orders(state, now):
    """Order 1 finished long ago (completed), 2 finished long ago but 'shipped' (synced here), 3 recent."""
    ledger = SqliteLedger.open(state)
    finished(ledger, 1, at=now - 100 * DAY)
    finished(ledger, 2, status="shipped", at=now - 100 * DAY)
    finished(ledger, 3, at=now - 10 * DAY)
    ledger.close()


def test_prune_keeps_orders_in_a_status_this_shop_syncs(state):
    now = time.time()
    old_orders(state, now)
    settings = Settings.model_validate({"state_dir": str(state), "woocommerce": {"statuses": ["shipped"]}})
    ledger = SqliteLedger.open(state)
    try:
        assert prune_ledger(settings, ledger, now=now, dry_run=True).orders == 1
        assert ledger.summary()["orders_seen"] == 3
        result = prune_ledger(settings, ledger, now=now)
        assert (result.orders, result.deliveries) == (1, {"delivered": 2})
        assert [order_id for order_id in (1, 2, 3) if ledger.order_history(order_id)] == [2, 3]
        assert ledger.summary()["last_prune_at"] is not None
        off = Settings.model_validate({"state_dir": str(state), "ledger": {"retention_days": 0}})
        assert prune_ledger(off, ledger, now=now + 1000 * DAY) is None  # retention off: nothing, ever
        assert ledger.summary()["orders_seen"] == 2
    finally:
        ledger.close()


def test_a_run_stops_at_its_budget_and_says_more_is_left(state, monkeypatch):
    monkeypatch.setattr("sync_daemon.app.PRUNE_BATCH_ORDERS", 2)
    now = time.time()
    ledger = SqliteLedger.open(state)
    try:
        for order_id in range(1, 6):
            finished(ledger, order_id, dests=("a",), at=now - 100 * DAY)
        settings = Settings.model_validate({"state_dir": str(state)})
        first = prune_ledger(settings, ledger, now=now, max_batches=2)
        assert (first.orders, first.more_left) == (4, True)
        second = prune_ledger(settings, ledger, now=now, max_batches=2)
        assert (second.orders, second.more_left) == (1, False)
        stopped = prune_ledger(settings, ledger, now=now, should_stop=lambda: True)
        assert stopped.orders == 0
    finally:
        ledger.close()


def test_prune_command_dry_run_then_for_real(config, state):
    old_orders(state, time.time())
    dry = cli(config, "prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would remove 1 order finished more than 90 days ago: deliveries 2 delivered" in dry.output
    data = json.loads(cli(config, "prune", "--dry-run", "--json").output)
    assert data["removed"]["orders"] == 1 and data["dry_run"] is True
    assert json.loads(cli(config, "status", "--json").output)["orders_seen"] == 3  # a dry run removes nothing
    real = cli(config, "prune")
    assert real.exit_code == 0 and "removed 1 order finished" in real.output
    assert json.loads(cli(config, "status", "--json").output)["orders_seen"] == 2


def test_prune_vacuum_refuses_while_a_daemon_holds_the_ledger(config, state):
    old_orders(state, time.time())
    held = lock_state_directory(state)
    try:
        refused = cli(config, "prune", "--vacuum")
        assert refused.exit_code == 2
        assert "--vacuum needs the daemon stopped" in refused.output and str(state) in refused.output
        assert f"pid {os.getpid()}" in refused.output
        assert cli(config, "prune").exit_code == 0  # plain pruning is fine beside a daemon
    finally:
        held.release()
    done = cli(config, "prune", "--vacuum", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["auto_vacuum"] == "incremental"


# -- the daemon lock -------------------------------------------------------------------------


def test_the_lock_names_its_holder_and_is_free_again_once_released(state):
    first = lock_state_directory(state)
    assert (state / LOCK_FILE_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(StateDirectoryInUse, match=f"pid {os.getpid()}"):
        lock_state_directory(state)
    first.release()
    first.release()  # twice is harmless
    lock_state_directory(state).release()


def test_the_kernel_frees_the_lock_of_a_process_killed_with_sigkill(state):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sync_daemon.core.files import lock_state_directory;"
         f" lock = lock_state_directory({str(state)!r}); print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateDirectoryInUse, match=f"pid {holder.pid}"):
            lock_state_directory(state)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    lock_state_directory(state).release()  # no stale lock left behind
