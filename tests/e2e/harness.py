"""Runs the real CLI as a subprocess against simulators running in this test process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The simulators answer from this test process: on a busy machine an answer can take seconds, and a
# timed-out request is sent again, which tests counting requests would see. No test waits for a timeout.
PLATFORM_TIMEOUT_SECONDS = 30


def write_config(path: Path, woocommerce: Any, gotrack: Any = None, orderrepo: Any = None, **overrides: Any) -> Path:
    """A TOML config pointing at the simulators; ``overrides`` are 'section.key' → TOML literal."""
    shop = woocommerce.credentials
    lines = [
        f'state_dir = "{path.parent / "state"}"',
        "poll_interval_seconds = 1",
        'log_format = "json"',
        "[woocommerce]",
        f'url = "{woocommerce.url}"',
        f'consumer_key = "{shop["consumer_key"]}"',
        f'consumer_secret = "{shop["consumer_secret"]}"',
        "initial_window_days = 30",
        "overlap_seconds = 5",
        "[delivery]",
        "retry_schedule_seconds = [0.2, 0.4, 0.8, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
        "retry_jitter = 0.1",
        # Long enough that a test reading a credentials pause (status, after stopping the daemon) always
        # finds it, however busy the machine; a test that needs the pause to end sets a short one itself.
        "auth_pause_seconds = 3600",
        "outage_pause_seconds = 2",
    ]
    if gotrack is not None:
        platform = gotrack.credentials
        lines += [
            "[gotrack]",
            "enabled = true",
            f'endpoint = "{gotrack.endpoint}"',
            f'api_key = "{platform["api_key"]}"',
            f'api_secret = "{platform["api_secret"]}"',
            f"timeout_seconds = {PLATFORM_TIMEOUT_SECONDS}",
        ]
    if orderrepo is not None:
        lines += [
            "[orderrepo]",
            "enabled = true",
            f'base_url = "{orderrepo.url}"',
            f'api_key = "{orderrepo.api_key}"',
            'origin = "https://shop.example.com"',
            'fallback_image_url = "https://shop.example.com/placeholder.png"',
            "status_pull_interval_seconds = 10",
            f"timeout_seconds = {PLATFORM_TIMEOUT_SECONDS}",
        ]
    text = "\n".join(lines) + "\n"
    for dotted, literal in overrides.items():
        section, _, key = dotted.rpartition(".")
        text = _set_key(text, section, key, literal)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _set_key(text: str, section: str, key: str, literal: str) -> str:
    """Set ``key`` in ``[section]`` (top level when empty), replacing an existing line."""
    blocks = text.split("\n[")
    index = 0 if not section else next((i for i, b in enumerate(blocks) if b.startswith(f"{section}]")), None)
    if index is None:
        return text + f"[{section}]\n{key} = {literal}\n"
    lines = blocks[index].split("\n")
    for number, line in enumerate(lines):
        if line.startswith(f"{key} ="):
            lines[number] = f"{key} = {literal}"
            break
    else:
        lines.insert(1 if section else 0, f"{key} = {literal}")
    blocks[index] = "\n".join(lines)
    return "\n[".join(blocks)


def cli_env() -> dict[str, str]:
    """The environment for the CLI: no inherited SYNC_DAEMON_* or systemd variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SYNC_DAEMON_") and k not in ("NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, config: Path | None = None, timeout: float = 60, env: dict[str, str] | None = None):
    """Run ``python -m sync_daemon ARGS`` to completion; returns the CompletedProcess."""
    command = [sys.executable, "-m", "sync_daemon", *args]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=env or cli_env())


class Daemon:
    """``sync-daemon run`` in the background, with its log captured to a file."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_daemon", "run", "--config", str(config)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env or cli_env(),
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send ``sig`` and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._log.close()

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line so far."""
        lines = []
        for line in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"raw": line})
        return lines


def wait_until(condition: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> bool:
    """Poll ``condition`` until true or the timeout; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
