"""Tests for sync_daemon.service against real AF_UNIX datagram sockets, plus the systemd unit files."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from sync_daemon.core import files
from sync_daemon.core.files import check_config_permissions, check_state_dir_writable, state_directory_default
from sync_daemon.service import systemd as service
from sync_daemon.service.systemd import (
    ProgressWatchdog,
    ServiceNotifier,
    watchdog_interval,
)

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNITS = ["sync-daemon.service", "sync-daemon@.service"]


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A bound datagram socket standing in for systemd; NOTIFY_SOCKET points at it."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    """One datagram decoded into its KEY=VALUE fields."""
    lines = sock.recv(65536).decode().split("\n")
    return dict(line.split("=", 1) for line in lines)


def test_each_message_reaches_the_socket(notify_socket):
    notifier = ServiceNotifier()
    assert notifier.enabled
    assert notifier.ready()
    assert receive(notify_socket) == {"READY": "1"}
    assert notifier.status("polling shop\n3 orders pushed\r\n")
    assert receive(notify_socket) == {"STATUS": "polling shop 3 orders pushed"}
    assert notifier.watchdog()
    assert receive(notify_socket) == {"WATCHDOG": "1"}
    assert notifier.stopping()
    assert receive(notify_socket) == {"STOPPING": "1"}
    assert notifier.send(EXTEND_TIMEOUT_USEC=5_000_000, READY=True)
    assert receive(notify_socket) == {"EXTEND_TIMEOUT_USEC": "5000000", "READY": "1"}


def test_reloading_carries_monotonic_usec(notify_socket):
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert ServiceNotifier().reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    fields = receive(notify_socket)
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


def test_abstract_socket(monkeypatch):
    name = f"sync-daemon-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert ServiceNotifier().ready()
        assert receive(sock) == {"READY": "1"}


def test_status_cannot_inject_fields(notify_socket):
    ServiceNotifier().status("oops\nREADY=1")
    assert receive(notify_socket) == {"STATUS": "oops READY=1"}


@pytest.mark.parametrize("value", [None, "", "relative/notify.sock", "vsock:2:1234"])
def test_noop_without_usable_notify_socket(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    notifier = ServiceNotifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.reloading() is False


def test_environ_can_be_passed_explicitly(notify_socket, monkeypatch):
    path = os.environ["NOTIFY_SOCKET"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert ServiceNotifier({"NOTIFY_SOCKET": path}).watchdog()
    assert receive(notify_socket) == {"WATCHDOG": "1"}


def test_send_failure_returns_false(notify_socket):
    notifier = ServiceNotifier()
    os.unlink(os.environ["NOTIFY_SOCKET"])  # systemd went away
    assert notifier.ready() is False
    assert notifier.status("still alive") is False


def test_invalid_field_name_is_a_programming_error(notify_socket):
    with pytest.raises(ValueError):
        ServiceNotifier().send(ready=1)


def test_concurrent_sends_arrive_whole(notify_socket):
    notifier = ServiceNotifier()
    threads = [threading.Thread(target=notifier.status, args=(f"thread {i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    # Read while they send: a datagram socket queues only a few messages (net.unix.max_dgram_qlen).
    received = {receive(notify_socket)["STATUS"] for _ in threads}
    for thread in threads:
        thread.join()
    assert received == {f"thread {i}" for i in range(20)}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "me"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env, expected):
    assert watchdog_interval(env) == expected


def test_watchdog_interval_reads_os_environ(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_watchdog_pings_only_while_progress_is_recent(notify_socket):
    clock = FakeClock()
    notifier = ServiceNotifier()
    dog = ProgressWatchdog(max_silence_seconds=300, clock=clock)

    assert dog.maybe_ping(notifier)  # start-up counts as progress
    assert receive(notify_socket) == {"WATCHDOG": "1"}

    clock.now += 299
    assert dog.healthy()
    assert dog.maybe_ping(notifier)
    assert receive(notify_socket) == {"WATCHDOG": "1"}

    clock.now += 2  # a poll pass is stuck: 301 s without progress
    assert not dog.healthy()
    assert dog.healthy(max_silence_seconds=400)
    assert dog.maybe_ping(notifier) is False
    assert receive(notify_socket)["STATUS"].startswith("stalled: no poll progress for 301s")
    assert dog.maybe_ping(notifier) is False  # no second status, no ping
    notify_socket.settimeout(0.2)
    with pytest.raises(TimeoutError):
        notify_socket.recv(100)

    dog.progress()  # the pass finished after all
    assert dog.seconds_since_progress() == 0
    assert dog.maybe_ping(notifier)
    assert receive(notify_socket) == {"WATCHDOG": "1"}


def test_progress_watchdog_window_per_call(notify_socket):
    clock = FakeClock()
    dog = ProgressWatchdog(clock=clock)
    assert dog.max_silence_seconds == service.DEFAULT_MAX_SILENCE_SECONDS
    clock.now += 150
    assert dog.maybe_ping(ServiceNotifier(), 200)
    assert receive(notify_socket) == {"WATCHDOG": "1"}
    assert dog.maybe_ping(ServiceNotifier(), 100) is False


def test_progress_watchdog_with_disabled_notifier(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert ProgressWatchdog(60, clock=FakeClock()).maybe_ping(ServiceNotifier()) is False


def test_config_permissions(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[woocommerce]\n")
    config.chmod(0o644)
    warning = check_config_permissions(config)
    assert warning is not None
    assert str(config) in warning and "0644" in warning and "chmod 600" in warning
    config.chmod(0o600)
    assert check_config_permissions(config) is None
    config.chmod(0o620)  # group-writable is as bad: someone could point the daemon at another shop
    assert check_config_permissions(config) is not None
    assert check_config_permissions(tmp_path / "missing.toml") is None


def test_state_dir_created_when_missing(tmp_path):
    state = tmp_path / "var" / "state"
    assert check_state_dir_writable(state) is None
    assert state.is_dir()
    assert list(state.iterdir()) == []  # the probe file is gone


def test_state_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # even root cannot create a directory below a regular file
    error = check_state_dir_writable(blocker / "state")
    assert error is not None
    assert str(blocker / "state") in error and "cannot be created" in error
    assert "StateDirectory=" in error and "chown" in error
    error = check_state_dir_writable(blocker)
    assert error is not None and "not a directory" in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a 0500 directory anyway")
def test_state_dir_not_writable_by_mode(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o500)
    try:
        error = check_state_dir_writable(state)
    finally:
        state.chmod(0o700)
    assert error is not None and "not writable" in error


def test_state_dir_not_writable(tmp_path, monkeypatch):
    # Root bypasses directory modes, so simulate the EACCES a non-root service user would get.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    error = check_state_dir_writable(tmp_path)
    assert error is not None
    assert f"state directory {tmp_path} is not writable (Permission denied)" in error
    assert "StateDirectory=" in error and "chown" in error


def test_state_directory_default(monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert state_directory_default() == Path("/var/lib/sync-daemon")  # the unit's, never the working directory
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/sync-daemon:/var/lib/other")
    assert state_directory_default() == Path("/var/lib/sync-daemon")


def unit_settings(name: str) -> list[tuple[str, str]]:
    """The KEY=VALUE lines of a unit file, comments dropped."""
    text = (UNIT_DIR / name).read_text()
    return [tuple(line.split("=", 1)) for line in text.splitlines() if re.match(r"[A-Za-z]+=", line)]


def test_template_has_the_same_sandbox_as_the_single_unit():
    def sandbox(name: str) -> list[tuple[str, str]]:
        settings = unit_settings(name)
        start = settings.index(("ProtectSystem", "strict"))
        return settings[start:]

    assert sandbox("sync-daemon.service") == sandbox("sync-daemon@.service")


def test_units_have_what_the_runner_relies_on():
    for name in UNITS:
        settings = dict(unit_settings(name))
        assert settings["Type"] == "notify"  # Debian 12's systemd 252 has no notify-reload
        assert settings["NotifyAccess"] == "main"
        assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
        assert "WatchdogSec" in settings and settings["DynamicUser"] == "yes"
    template = unit_settings("sync-daemon@.service")
    assert ("Environment", "SYNC_DAEMON_CONFIG=/etc/sync-daemon/%i.toml") in template
    assert ("StateDirectory", "sync-daemon/%i") in template
    assert all("/credentials/%i/" in value for key, value in template if key == "LoadCredential")


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify(name, tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed: apt-get install -y systemd (works without systemd running)")
    # verify fails when ExecStart= binaries are missing, so check a copy pointing at /bin/true.
    text = (UNIT_DIR / name).read_text().replace("/opt/sync-daemon/bin/sync-daemon", "/bin/true")
    unit = tmp_path / name
    unit.write_text(text)
    result = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # Unknown keys or values (e.g. Type=notify-reload on systemd 252) are only warnings with exit
    # status 0, so any output at all is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_units_start_without_credential_files_and_agree_with_the_docs_on_every_folder():
    """A LoadCredential= of a missing file fails the start: the README's set-up (secrets in config.toml) has none."""
    from sync_daemon.core.credentials import DEFAULT_CREDENTIALS_DIRECTORY
    from sync_daemon.core.files import DEFAULT_STATE_DIRECTORY

    root = UNIT_DIR.parent
    documents = {path: path.read_text() for path in (root / "README.md", root / "docs" / "systemd.md")}
    for name in UNITS:
        assert not [value for key, value in unit_settings(name) if key.startswith("LoadCredential")], name
        text = (UNIT_DIR / name).read_text()
        commented = re.findall(r"^#LoadCredential=[^:]+:(\S+)$", text, re.MULTILINE)
        assert commented and all(path.startswith(f"{DEFAULT_CREDENTIALS_DIRECTORY}/") for path in commented)
        assert f"--credentials-dir {DEFAULT_CREDENTIALS_DIRECTORY}" in text
    state = dict(unit_settings("sync-daemon.service"))["StateDirectory"]
    assert Path("/var/lib") / state == DEFAULT_STATE_DIRECTORY  # the CLI's default is the unit's ledger
    for path, text in documents.items():
        assert "/etc/credstore" not in text, path
        assert f"--credentials-dir {DEFAULT_CREDENTIALS_DIRECTORY}" in text, path
    # The unit runs /opt/sync-daemon/bin/sync-daemon; the guide's commands need it on the PATH.
    assert "ln -s /opt/sync-daemon/bin/sync-daemon /usr/local/bin/" in documents[root / "docs" / "systemd.md"]
