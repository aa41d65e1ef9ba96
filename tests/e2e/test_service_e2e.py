"""systemd integration with the real daemon: notify messages on a real AF_UNIX socket, reload, stop."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from sync_daemon.simulators.orders import generate_orders, make_order

from .harness import Daemon, cli_env, run_cli, wait_until, write_config


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET; collects every message."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def has(self, prefix):
        return any(line.startswith(prefix) for message in self.messages for line in message.split("\n"))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path):
    collector = NotifySocket(tmp_path / "notify.sock")
    yield collector
    collector.close()


def test_notify_ready_status_watchdog_reload_and_stopping(tmp_path, woocommerce, gotrack, notify):
    woocommerce.add_orders(generate_orders(5, seed=1, start_id=9100))
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    env = cli_env() | {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"}
    daemon = Daemon(config, tmp_path / "daemon.log", env=env)
    try:
        assert wait_until(lambda: notify.has("READY=1"), timeout=15)
        assert wait_until(lambda: notify.has("STATUS=last poll"), timeout=15)
        assert wait_until(lambda: len([m for m in notify.messages if m == "WATCHDOG=1"]) >= 2, timeout=15)
        status = next(m for m in notify.messages if m.startswith("STATUS=last poll"))
        assert "delivered" in status and "failing" in status

        # A valid change: reloaded between passes, secrets never named by value.
        config.write_text(config.read_text().replace("poll_interval_seconds = 1", "poll_interval_seconds = 2"))
        notify.messages.clear()
        daemon.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: notify.has("RELOADING=1") and notify.has("READY=1"), timeout=15)
        reloading = next(m for m in notify.messages if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in reloading
        assert wait_until(lambda: any(line.get("event") == "configuration reloaded" for line in daemon.log_lines()))
        reloaded = next(line for line in daemon.log_lines() if line.get("event") == "configuration reloaded")
        assert reloaded["changed"] == ["poll_interval_seconds"]

        # A broken config is rejected and the old one keeps running.
        good = config.read_text()
        config.write_text(good.replace("[gotrack]", "[gotrack]\nphone_format = 42"))
        notify.messages.clear()
        daemon.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: any(line.get("event", "").startswith("reload rejected")
                                      for line in daemon.log_lines()), timeout=15)
        assert wait_until(lambda: notify.has("READY=1"), timeout=30)
        assert daemon.process.poll() is None
        woocommerce.add_orders([make_order(9200)])
        assert wait_until(lambda: len(gotrack.orders()) == 6, timeout=20)  # still delivering

        notify.messages.clear()
        assert daemon.stop(signal.SIGTERM) == 0
    finally:
        if daemon.process.poll() is None:
            daemon.kill()
    assert notify.has("STOPPING=1")
    assert woocommerce.credentials["consumer_secret"] not in daemon.log_path.read_text()


def test_sigterm_during_delivery_loses_nothing(tmp_path, woocommerce, gotrack):
    woocommerce.add_orders(generate_orders(120, seed=3, start_id=9300))
    # Slow answers so the stop lands while requests are in flight.
    gotrack.set_faults([{"kind": "timeout", "delay": 1, "probability": 0.3}], seed=5)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    daemon = Daemon(config, tmp_path / "daemon.log")
    assert wait_until(lambda: len(gotrack.orders()) >= 10, timeout=30)
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    gotrack.clear_faults()
    daemon = Daemon(config, tmp_path / "daemon-2.log")
    try:
        assert wait_until(lambda: len(gotrack.orders()) == 120, timeout=60)
    finally:
        assert daemon.stop() == 0
    counts = gotrack.requests_by_external_id()
    assert len(gotrack.orders()) == 120 and all(count >= 1 for count in counts.values())


def test_loose_config_permissions_warn_and_unwritable_state_refuses(tmp_path, woocommerce, gotrack):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    config.chmod(0o644)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: any("chmod 600" in str(line.get("event")) for line in daemon.log_lines()), 15)
        assert wait_until(lambda: any(line.get("event") == "sync-daemon started" for line in daemon.log_lines()), 15)
    finally:
        assert daemon.stop() == 0
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the state directory should be")
    text = config.read_text().replace(f'state_dir = "{tmp_path / "state"}"', f'state_dir = "{blocker}/state"')
    config.write_text(text)
    result = run_cli("run", config=config, timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and str(blocker) in result.stderr
