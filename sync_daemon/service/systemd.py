"""systemd integration: sd_notify messages and the progress watchdog (stdlib only).

The start-up checks of the config file and the state directory are in ``core/files.py``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping

# A blocked sendto() would stall the runner's main loop, which is also the loop that pings the watchdog.
_SEND_TIMEOUT_SECONDS = 5.0
# STATUS= is shown by `systemctl status`; a huge exception text must not make the datagram fail (EMSGSIZE).
_STATUS_MAX_CHARS = 1000
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _one_line(text: object) -> str:
    """Collapse newlines so a value cannot inject further KEY=VALUE lines into the datagram."""
    return " ".join(str(text).splitlines()).strip()


def _socket_address(value: str | None) -> str | None:
    """Translate NOTIFY_SOCKET into an AF_UNIX address: '@name' is abstract (leading NUL), '/path' a file."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    # Relative paths and vsock: addresses (systemd >= 254, VMs only) are not for us: stay a no-op.
    return None


class ServiceNotifier:
    """Sends sd_notify(3) datagrams to systemd; a no-op when NOTIFY_SOCKET is unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _socket_address(env.get("NOTIFY_SOCKET"))
        # One datagram at a time: scheduler threads and the main loop may notify concurrently.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a notification socket is configured (i.e. we run under systemd Type=notify)."""
        return self.address is not None

    def send(self, **fields: object) -> bool:
        """Send KEY=VALUE fields in one datagram; True when sent, False when disabled or sending failed."""
        for name in fields:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"invalid sd_notify field name {name!r}: use upper case, e.g. READY")
        if self.address is None or not fields:
            return False
        # bool -> 1/0: systemd expects READY=1, not READY=True.
        lines = [f"{k}={_one_line(int(v) if isinstance(v, bool) else v)}" for k, v in fields.items()]
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(_SEND_TIMEOUT_SECONDS)
                sock.sendto(payload, self.address)
        except OSError:
            # systemd gone, socket removed, queue full: the daemon's real work must go on regardless.
            return False
        return True

    def ready(self) -> bool:
        """Tell systemd start-up (or a reload) is complete: READY=1."""
        return self.send(READY=1)

    def status(self, text: str) -> bool:
        """Set the one-line status shown by `systemctl status`."""
        return self.send(STATUS=_one_line(text)[:_STATUS_MAX_CHARS])

    def watchdog(self) -> bool:
        """Ping the systemd watchdog: WATCHDOG=1."""
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        """Tell systemd a clean shutdown has begun: STOPPING=1."""
        return self.send(STOPPING=1)

    def reloading(self) -> bool:
        """Tell systemd a reload has begun; follow with ready() whether the reload succeeded or not."""
        # Type=notify-reload (systemd >= 253) requires MONOTONIC_USEC in the same datagram; older ignore it.
        return self.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of WATCHDOG_USEC), or None when the watchdog is not for us."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    try:
        if pid and int(pid) != os.getpid():
            return None  # meant for another process, e.g. the one that exec'd us
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    # systemd's advice (sd_watchdog_enabled(3)): ping at half the timeout to absorb scheduling jitter.
    return usec / 2 / 1_000_000 if usec > 0 else None


# Default window without progress before pings stop; it must exceed the longest legitimate poll pass.
DEFAULT_MAX_SILENCE_SECONDS = 300.0


class ProgressWatchdog:
    """Pings the systemd watchdog only while the scheduler keeps making progress, so a stuck poll restarts."""

    def __init__(
        self, max_silence_seconds: float = DEFAULT_MAX_SILENCE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_silence_seconds = max_silence_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # Start-up counts as progress: the first poll pass gets a full window before pings stop.
        self._last_progress = clock()
        self._reported_stall = False

    def progress(self) -> None:
        """Record that the scheduler made progress (a poll pass started or finished)."""
        with self._lock:
            self._last_progress = self._clock()

    def seconds_since_progress(self) -> float:
        """Seconds since the last recorded progress."""
        with self._lock:
            return self._clock() - self._last_progress

    def healthy(self, max_silence_seconds: float | None = None) -> bool:
        """Whether progress happened within max_silence_seconds (default: the constructor's window)."""
        limit = self.max_silence_seconds if max_silence_seconds is None else max_silence_seconds
        return self.seconds_since_progress() <= limit

    def maybe_ping(self, notifier: ServiceNotifier, max_silence_seconds: float | None = None) -> bool:
        """Send WATCHDOG=1 if progress is recent; True when a ping was sent. Call about once a second."""
        limit = self.max_silence_seconds if max_silence_seconds is None else max_silence_seconds
        silence = self.seconds_since_progress()
        if silence <= limit:
            self._reported_stall = False
            return notifier.watchdog()
        if not self._reported_stall:
            # Say why pings stopped, so `systemctl status` explains the coming watchdog restart.
            self._reported_stall = True
            notifier.status(f"stalled: no poll progress for {silence:.0f}s; watchdog pings stopped")
        return False
