"""The real CLI against the WooCommerce and GoTrack simulators, with a real SQLite ledger."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter

import pytest

from sync_daemon.simulators.orders import demo_orders, generate_orders, make_order

from .harness import Daemon, run_cli, wait_until, write_config


def gotrack_ids(gotrack):
    """external_order_id → how many orders GoTrack holds for it."""
    return Counter(order["payload"]["external_order_id"] for order in gotrack.orders())


def secrets_of(woocommerce, gotrack):
    return [woocommerce.credentials["consumer_secret"], gotrack.credentials["api_secret"]]


def assert_no_secret(text, secrets):
    for secret in secrets:
        assert secret not in text


def test_run_delivers_every_order_once_and_stops_cleanly(tmp_path, woocommerce, gotrack):
    orders = generate_orders(40, seed=7, start_id=5000)
    woocommerce.add_orders(orders)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == 40, timeout=30)
        # New orders arriving while it runs are picked up by the next poll.
        woocommerce.add_orders([make_order(6000 + index) for index in range(5)])
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == 45, timeout=30)
        started = time.monotonic()
        assert daemon.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 8
    finally:
        if daemon.process.poll() is None:
            daemon.kill()
    assert set(gotrack_ids(gotrack).values()) == {1}
    lines = daemon.log_lines()
    assert any(line.get("event") == "pass finished" and "fetched" in line for line in lines)
    assert any(line.get("event") == "sync-daemon stopped" and line.get("clean") for line in lines)
    assert_no_secret(daemon.log_path.read_text(), secrets_of(woocommerce, gotrack))

    status = run_cli("status", "--json", config=config)
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["counts"]["gotrack"]["delivered"] == 45
    assert summary["last_poll_result"] == "ok"
    assert summary["cursor"]


def test_demo_orders_land_or_are_rejected_with_reasons(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(demo_orders())
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == 11, timeout=30)
    finally:
        assert daemon.stop() == 0
    status = json.loads(run_cli("status", "--json", config=config).stdout)
    assert status["counts"]["gotrack"]["rejected"] == 1
    assert status["counts"]["gotrack"]["delivered"] == 11
    rejected = [order for order in demo_orders() if not order["billing"]["phone"] and not order["shipping"]["phone"]]
    history = run_cli("status", str(rejected[0]["id"]), config=config)
    assert history.returncode == 0
    assert "no customer phone" in history.stdout
    # Every total GoTrack computed equals the WooCommerce total.
    totals = {str(order["id"]): float(order["total"]) for order in demo_orders()}
    for stored in gotrack.orders():
        assert stored["order"]["total_selling_price"] == pytest.approx(totals[stored["external_order_id"]])


def test_faults_everything_lands_exactly_once(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(120, seed=3, start_id=100))
    gotrack.set_faults(
        [
            {"kind": "status", "status": 503, "probability": 0.15},
            {"kind": "reset", "probability": 0.05},
            {"kind": "timeout", "delay": 3, "probability": 0.03},
            {"kind": "commit_then_500", "probability": 0.05},
            {"kind": "rate_limit", "retry_after": 1, "count": 3},
        ],
        seed=11,
    )
    woocommerce.set_faults([{"kind": "status", "status": 502, "count": 2}], seed=1)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == 120, timeout=90), len(gotrack_ids(gotrack))
    finally:
        assert daemon.stop() == 0
    assert set(gotrack_ids(gotrack).values()) == {1}
    assert_no_secret(daemon.log_path.read_text(), secrets_of(woocommerce, gotrack))


def test_kill_9_at_random_moments_loses_nothing_and_duplicates_nothing(tmp_path, woocommerce, gotrack):
    count = 300
    woocommerce.add_orders(generate_orders(count, seed=5, start_id=20000))
    # Slow some answers down so kills land while requests are in flight.
    gotrack.set_faults([{"kind": "status", "status": 503, "probability": 0.05}], seed=2)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    rng = random.Random(4)
    for kill in range(3):
        daemon = Daemon(config, tmp_path / f"daemon-{kill}.log")
        target = (kill + 1) * count // 5
        wait_until(lambda target=target: len(gotrack_ids(gotrack)) > target, timeout=30)
        time.sleep(rng.uniform(0.0, 0.3))
        daemon.kill()
    daemon = Daemon(config, tmp_path / "daemon-final.log")
    try:
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == count, timeout=60)
        status = lambda: json.loads(run_cli("status", "--json", config=config).stdout)  # noqa: E731
        assert wait_until(lambda: status()["counts"]["gotrack"]["delivered"] == count, timeout=30)
    finally:
        assert daemon.stop() == 0
    assert set(gotrack_ids(gotrack).values()) == {1}
    assert len(gotrack_ids(gotrack)) == count


def test_resync_sends_a_rejected_order_after_it_is_fixed(tmp_path, woocommerce, gotrack):
    (order,) = [o for o in demo_orders() if not o["billing"]["phone"] and not o["shipping"]["phone"]]
    woocommerce.add_orders([order])
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    first = run_cli("resync", str(order["id"]), config=config)
    assert first.returncode == 1
    assert "gotrack: rejected" in first.stdout and "no customer phone" in first.stdout
    woocommerce.edit_order(order["id"], billing={**order["billing"], "phone": "01812-345678"})
    second = run_cli("resync", str(order["id"]), "--json", config=config)
    assert second.returncode == 0, second.stdout + second.stderr
    (result,) = json.loads(second.stdout)
    assert result["landed"] and result["remote_id"]
    assert gotrack.order_by_external_id("woocommerce", str(order["id"]))["payload"]["customer"]["phone"] == (
        "01812345678"
    )
    # A second resync is an idempotent replay, not a second order.
    assert run_cli("resync", str(order["id"]), config=config).returncode == 0
    assert gotrack_ids(gotrack)[str(order["id"])] == 1


def test_resync_of_an_unknown_order_is_one_clear_line(tmp_path, woocommerce, gotrack):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    result = run_cli("resync", "999999", config=config)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "invalid_id" in result.stderr


def test_invalid_config_lists_every_problem_exit_2(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('poll_interval_seconds = "often"\n[woocommerce]\nurl = "ftp://x"\n[gotrack]\nenabled = true\n')
    result = run_cli("check-config", config=config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for fragment in ("poll_interval_seconds", "woocommerce.url"):
        assert fragment in result.stderr
    result = run_cli("run", config=config)
    assert result.returncode == 2


def test_rotated_gotrack_credentials_pause_the_destination(tmp_path, woocommerce, gotrack):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    gotrack.rotate_credentials()
    woocommerce.add_orders(generate_orders(5, seed=1, start_id=700))
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: (tmp_path / "state" / "ledger.sqlite3").exists(), timeout=20)  # status needs it
        status = lambda: json.loads(run_cli("status", "--json", config=config).stdout)  # noqa: E731
        # The pause lasts an hour (the harness): it is still there when status is read after the stop.
        assert wait_until(lambda: status()["destinations"].get("gotrack", {}).get("pause_kind") == "auth", timeout=60)
    finally:
        assert daemon.stop() == 0
    summary = status()
    assert summary["counts"]["gotrack"]["pending"] == 5  # no attempt burned, nothing dead
    text = run_cli("status", config=config).stdout
    assert "PAUSED" in text and "credentials rejected" in text and "test-connection" in text
    assert_no_secret(text + daemon.log_path.read_text(), secrets_of(woocommerce, gotrack))


def test_woocommerce_down_is_reported_and_cursor_stays(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(3, seed=1, start_id=800))
    woocommerce.update_settings(rest_disabled=True)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        # Until the daemon has created its ledger, status finds none (exit 2, empty stdout).
        status = lambda: json.loads(run_cli("status", "--json", config=config).stdout or "{}")  # noqa: E731
        assert wait_until(lambda: status().get("last_poll_result") == "failed", timeout=20)
        summary = status()
        assert summary["cursor"] is None
        assert "rest_no_route" in summary["last_poll_error"] and "permalinks" in summary["last_poll_error"]
        woocommerce.update_settings(rest_disabled=False)
        assert wait_until(lambda: len(gotrack_ids(gotrack)) == 3, timeout=30)
    finally:
        assert daemon.stop() == 0
