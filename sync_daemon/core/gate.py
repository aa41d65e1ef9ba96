"""A destination's gate: every request to the platform passes it just before it leaves.

A 429 (or a 503 with ``Retry-After``) closes the gate the moment the answer is received, before
anything parses it, and no request of the destination leaves until the wait is over. The
classifier's pause, set a little later from the parsed error, is what the ledger and ``status``
show; the gate is what stops the other worker threads in between.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sync_daemon.core.errors import RateLimitedError

DEFAULT_WAIT_SECONDS = 30.0  # a 429 without Retry-After


class GateClosed(RateLimitedError):
    """A request that did not leave: its platform asked to wait (``retry_after``: seconds still to wait)."""


class SendGate:
    """Open until a platform asks to wait; then closed until the wait is over."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._opens_at = 0.0
        self._lock = threading.Lock()

    def check(self, platform: str) -> None:
        """Raise ``GateClosed`` while the platform's wait lasts; return at once otherwise."""
        wait = self._opens_at - self._clock()  # one read of a float: no lock on the hot path
        if wait > 0:
            raise GateClosed(
                f"{platform}: not sent, the platform asked to wait {wait:.1f} s more (Retry-After)",
                http_status=429,
                retry_after=wait,
            )

    def close_for(self, seconds: float) -> None:
        """Keep every request back for ``seconds`` from now (a shorter wait never shortens a longer one)."""
        if seconds <= 0:
            return
        with self._lock:
            self._opens_at = max(self._opens_at, self._clock() + seconds)
