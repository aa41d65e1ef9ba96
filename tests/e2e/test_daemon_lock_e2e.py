"""One daemon per ledger: two real `sync-daemon run` on one state directory, and the lock after kill -9."""

from __future__ import annotations

import json
import signal

from sync_daemon.simulators.orders import generate_orders, make_order

from .harness import Daemon, run_cli, wait_until, write_config


def started(daemon: Daemon) -> bool:
    return any(line.get("event") == "sync-daemon started" for line in daemon.log_lines())


def test_a_second_daemon_on_the_same_ledger_refuses_and_the_first_goes_on(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(5, seed=17, start_id=9500))
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    first = Daemon(config, tmp_path / "first.log")
    try:
        assert wait_until(lambda: started(first), timeout=30)
        assert wait_until(lambda: len(gotrack.orders()) == 5, timeout=30)

        second = run_cli("run", config=config, timeout=60)
        assert second.returncode == 2
        assert "Traceback" not in second.stderr
        assert f"pid {first.process.pid}" in second.stderr and str(tmp_path / "state") in second.stderr
        assert "already running" in second.stderr

        # The other commands work beside the running daemon.
        status = run_cli("status", "--json", config=config)
        assert status.returncode == 0 and json.loads(status.stdout)["counts"]["gotrack"]["delivered"] == 5
        assert run_cli("resync", "9500", config=config).returncode == 0
        assert run_cli("prune", "--dry-run", config=config).returncode == 0

        woocommerce.add_orders([make_order(9600)])
        assert wait_until(lambda: len(gotrack.orders()) == 6, timeout=30)  # the first one still delivers
        assert first.process.poll() is None
    finally:
        first.kill()  # kill -9: no cleanup at all, the lock is left to the kernel

    third = Daemon(config, tmp_path / "third.log")
    try:
        assert wait_until(lambda: started(third), timeout=30)
        woocommerce.add_orders([make_order(9700)])
        assert wait_until(lambda: len(gotrack.orders()) == 7, timeout=30)
    finally:
        assert third.stop(signal.SIGTERM) == 0
    expected = {f"woocommerce:{order_id}" for order_id in (*range(9500, 9505), 9600, 9700)}
    assert set(gotrack.requests_by_external_id()) == expected and len(gotrack.orders()) == 7


def test_two_daemons_started_together_never_both_deliver(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(20, seed=18, start_id=9800))
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemons = [Daemon(config, tmp_path / f"daemon-{index}.log") for index in range(2)]
    try:
        # Exactly one stays up: the other exits 2 at once, whichever started first.
        assert wait_until(lambda: any(d.process.poll() is not None for d in daemons), timeout=60)
        refused = next(d for d in daemons if d.process.poll() is not None)
        running = next(d for d in daemons if d is not refused)
        assert refused.process.returncode == 2
        assert not started(refused) and "already running" in refused.log_path.read_text()
        assert wait_until(lambda: len(gotrack.orders()) == 20, timeout=60)
        assert running.process.poll() is None
    finally:
        for daemon in daemons:
            if daemon.process.poll() is None:
                assert daemon.stop(signal.SIGTERM) == 0
            else:
                daemon.stop()
    assert len(gotrack.orders()) == 20


def test_deleting_the_lock_file_does_not_let_a_second_daemon_start(tmp_path, woocommerce, gotrack):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    first = Daemon(config, tmp_path / "first.log")
    try:
        assert wait_until(lambda: started(first), timeout=30)
        (tmp_path / "state" / "daemon.lock").unlink()  # a tidy-minded admin, or a cleanup script

        second = Daemon(config, tmp_path / "second.log")
        try:
            assert wait_until(lambda: second.process.poll() is not None or started(second), timeout=60)
            assert second.process.poll() == 2, "a second daemon started on the same ledger"
        finally:
            second.stop(signal.SIGKILL)
        text = (tmp_path / "second.log").read_text()
        assert "already running" in text and "Traceback" not in text
        assert first.process.poll() is None
    finally:
        assert first.stop(signal.SIGTERM) == 0
