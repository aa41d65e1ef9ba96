"""A long pass made visible: systemd's status line, a log line every ~10 s, the ledger's meta for ``status``.

The engine tells every step (a page read, a batch of outcomes); this decides how often each place
hears of it, so a short poll writes nothing at all and a 4 000-order backfill a few lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from sync_daemon.engine.progress import PassProgress
from sync_daemon.ledger import PASS_PROGRESS_KEY

log = structlog.get_logger("sync_daemon.progress")

SHOW_AFTER_SECONDS = 1.0  # a pass shorter than this shows nothing anywhere
STATUS_EVERY_SECONDS = 1.0  # systemd's status line
STORE_EVERY_SECONDS = 2.0  # the ledger's meta, read by `status` from another process
LOG_EVERY_SECONDS = 10.0

Display = Callable[[PassProgress | None], Any]


class ProgressReporter:
    """Shows the progress of the pass in progress; ``finish`` after each pass clears what it left."""

    def __init__(
        self,
        ledger: Any,
        notifier: Any,
        *,
        display: Display | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.notifier = notifier
        self.display = display  # the terminal's bar, when `run` is in the foreground
        self._clock = clock
        self._wall_clock = wall_clock
        self._started: float | None = None
        self._started_at = ""
        self._last: dict[str, float] = {}
        self._stored = False
        self._shown = False

    def report(self, progress: PassProgress) -> None:
        """One step of the pass (on the pass thread): pass it on where it is due."""
        now = self._clock()
        if self._started is None:
            self._started = now
            self._started_at = _iso(self._wall_clock())
        if now - self._started < SHOW_AFTER_SECONDS:
            return
        if self.display is not None:
            self._shown = True
            self.display(progress)
        if self._due("status", now, STATUS_EVERY_SECONDS):
            self.notifier.status(progress.describe())
        if self._due("store", now, STORE_EVERY_SECONDS):
            record = {**progress.as_dict(), "kind": progress.kind, "started_at": self._started_at,
                      "updated_at": _iso(self._wall_clock())}
            self.ledger.set_meta(**{PASS_PROGRESS_KEY: json.dumps(record)})
            self._stored = True
        if now - self._started >= LOG_EVERY_SECONDS and self._due("log", now, LOG_EVERY_SECONDS):
            log.info("pass progress", read=progress.read, total=progress.total, delivered=progress.delivered,
                     backfill=progress.backfill)

    def finish(self) -> None:
        """The pass is over (or crashed): take the bar down and the stored progress away."""
        if self._shown and self.display is not None:
            self.display(None)
        if self._stored:
            self.ledger.set_meta(**{PASS_PROGRESS_KEY: None})
        self._started, self._last, self._stored, self._shown = None, {}, False, False

    def _due(self, what: str, now: float, every: float) -> bool:
        """True (and noted) when ``what`` was last done ``every`` seconds ago or never."""
        if now - self._last.get(what, float("-inf")) < every:
            return False
        self._last[what] = now
        return True


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
