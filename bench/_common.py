"""What the benchmark scripts share: simulators in a process of their own, the real daemon as a child
process, its config file, readings from /proc, read-only looks into the ledger, and table printing.

Nothing here is part of the daemon; it only drives it from the outside, as a merchant's machine would.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import tomlkit

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "https://shop.example.com"
FALLBACK_IMAGE = "https://shop.example.com/wp-content/uploads/placeholder.png"
ACTIVE_STATES = ("pending", "retrying", "sending")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def child_env() -> dict[str, str]:
    """The environment of child processes: no inherited SYNC_DAEMON_* or systemd variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SYNC_DAEMON_") and key not in ("NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY", "WATCHDOG_USEC")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


# -- /proc ---------------------------------------------------------------------------------


def proc_status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM, …), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def mib(kb: float | None) -> str:
    """kB as a MiB figure for printing."""
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


# -- simulators in their own process -------------------------------------------------------


class SimulatorProcess:
    """``python -m sync_daemon.simulators`` as a child; ``info`` is the JSON line it prints."""

    def __init__(
        self, *args: str, generate: int = 0, seed: int = 0, nodelay: bool = True, startup_timeout: float = 900
    ) -> None:
        # nodelay: start them through bench/_simulators.py, which only turns Nagle's algorithm off.
        module = "bench._simulators" if nodelay else "sync_daemon.simulators"
        command = [sys.executable, "-m", module, *args]
        if generate:
            command += ["--generate", str(generate), "--seed", str(seed)]
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT, env=child_env(), text=True
        )
        deadline = time.monotonic() + startup_timeout
        line = ""
        while not line:
            line = self.process.stdout.readline() if self.process.stdout else ""
            if not line and (self.process.poll() is not None or time.monotonic() > deadline):
                self.stop()
                raise RuntimeError("the simulators did not start")
        # Generating the orders happens before the line is printed: this is generation + startup.
        self.startup_seconds = time.perf_counter() - started
        self.info: dict[str, Any] = json.loads(line)
        self.session = requests.Session()

    @property
    def pid(self) -> int:
        """The simulator process id."""
        return self.process.pid

    def url(self, name: str) -> str:
        """Base URL of one simulator (woocommerce, gotrack, orderrepo)."""
        return self.info[name]["url"]

    def admin(self, name: str, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        """Call a simulator's ``/__admin__/`` interface; returns the decoded JSON answer."""
        response = self.session.request(
            method, f"{self.url(name)}/__admin__/{path.lstrip('/')}", json=body, timeout=timeout
        )
        response.raise_for_status()
        return response.json()

    def stats(self, name: str) -> dict[str, Any]:
        """Request counts of one simulator (total, by route, by status, by fault)."""
        return self.admin(name, "GET", "stats")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        self.session.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the daemon ----------------------------------------------------------------------------


def daemon_config(
    path: Path,
    *,
    woocommerce: dict[str, Any],
    gotrack: dict[str, Any] | None = None,
    orderrepo: dict[str, Any] | None = None,
    state_dir: Path,
    poll_interval: float = 1,
    concurrency: int | None = None,
    batch_size: int | None = None,
    timeout: float | None = None,
    retry_schedule: Sequence[float] | None = None,
    retry_jitter: float | None = None,
    status_pull_interval: float | None = None,
    writeback_interval: float | None = None,
    log_level: str = "info",
) -> Path:
    """Write a TOML config pointing at the simulators (``info`` entries of SimulatorProcess or sims).

    Unset options keep the daemon's defaults, so a benchmark measures what a merchant gets.
    """
    document: dict[str, Any] = {
        "state_dir": str(state_dir),
        "poll_interval_seconds": poll_interval,
        "log_level": log_level,
        "log_format": "json",
        "woocommerce": {
            "url": woocommerce["url"],
            "consumer_key": woocommerce["credentials"]["consumer_key"],
            "consumer_secret": woocommerce["credentials"]["consumer_secret"],
            # Generated orders span the last 14 days.
            "initial_window_days": 30,
        },
        "delivery": {},
    }
    if writeback_interval is not None:
        document["writeback"] = {"interval_seconds": writeback_interval}
    if batch_size is not None:
        document["delivery"]["batch_size"] = batch_size
    if retry_schedule is not None:
        document["delivery"]["retry_schedule_seconds"] = list(retry_schedule)
    if retry_jitter is not None:
        document["delivery"]["retry_jitter"] = retry_jitter
    common: dict[str, Any] = {"enabled": True}
    if concurrency is not None:
        common["concurrency"] = concurrency
    if timeout is not None:
        common["timeout_seconds"] = timeout
    if gotrack is not None:
        document["gotrack"] = {
            **common,
            "endpoint": gotrack["endpoint"],
            "api_key": gotrack["credentials"]["api_key"],
            "api_secret": gotrack["credentials"]["api_secret"],
        }
    if orderrepo is not None:
        document["orderrepo"] = {
            **common,
            "base_url": orderrepo["url"],
            "api_key": orderrepo["credentials"]["api_key"],
            "origin": ORIGIN,
            "fallback_image_url": FALLBACK_IMAGE,
        }
        if status_pull_interval is not None:
            document["orderrepo"]["status_pull_interval_seconds"] = status_pull_interval
    path.write_text(tomlkit.dumps(document))
    path.chmod(0o600)
    return path


class DaemonProcess:
    """``python -m sync_daemon run --config …`` as a child process, its JSON log in a file."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.started_at = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_daemon", "run", "--config", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=child_env(),
        )

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        return self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def rss_kb(self) -> int | None:
        """Resident memory now."""
        return proc_status_kb(self.pid, "VmRSS")

    def peak_rss_kb(self) -> int | None:
        """Peak resident memory so far (VmHWM)."""
        return proc_status_kb(self.pid, "VmHWM")

    def cpu_seconds(self) -> float | None:
        """CPU time used so far."""
        return proc_cpu_seconds(self.pid)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        try:
            if self.alive():
                self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """kill -9: no cleanup at all."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()

    def log_events(self, name: str | None = None) -> list[dict[str, Any]]:
        """JSON log lines (optionally only those whose event is ``name``)."""
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                events.append(event)
        return events

    def event_time(self, name: str) -> float | None:
        """Epoch seconds of the first log line with that event."""
        for event in self.log_events(name):
            stamp = event.get("timestamp")
            if isinstance(stamp, str):
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        return None


# -- the ledger, read from outside ---------------------------------------------------------


class LedgerReader:
    """A read-only look at a daemon's ledger while it runs (WAL: readers never block it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self.path.exists():
                return None
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return self._db

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; an empty list while the ledger does not exist yet."""
        db = self._connection()
        if db is None:
            return []
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise

    def states(self) -> dict[str, dict[str, int]]:
        """destination → state → rows."""
        counts: dict[str, dict[str, int]] = {}
        for destination, state, count in self.query(
            "SELECT destination, state, COUNT(*) FROM deliveries GROUP BY destination, state"
        ):
            counts.setdefault(destination, {})[state] = count
        return counts

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
            self._db = None


def ledger_size(state_dir: Path) -> int:
    """Bytes of the ledger and its WAL/shm files."""
    return sum(path.stat().st_size for path in state_dir.glob("ledger.sqlite3*") if path.is_file())


# -- small utilities -----------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (values need not be sorted); nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll ``condition`` until it is true or the timeout passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """A plain text table, columns left-aligned."""
    body = [[str(cell) for cell in row] for row in rows]
    if header:
        body.insert(0, [str(cell) for cell in header])
    widths = [max(len(row[index]) for row in body) for index in range(len(body[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in body]
    if header:
        lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
