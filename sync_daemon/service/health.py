"""``GET /healthz``: is the daemon doing its job? A recent successful poll and a writable ledger."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync_daemon.core.files import check_state_dir_writable


class Health:
    """Answers whether the last poll succeeded within 3 × the interval and the ledger can be written."""

    def __init__(
        self,
        ledger_path: Path,
        interval: Callable[[], float],
        last_success: Callable[[], float | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger_path = Path(ledger_path)
        self.interval = interval
        self.last_success = last_success
        self.clock = clock
        self.started_at = clock()

    def check(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details as JSON-ready data); the reasons name what is wrong."""
        now = self.clock()
        limit = 3 * self.interval()
        last = self.last_success()
        reasons = []
        if last is None:
            if now - self.started_at > limit:
                reasons.append(f"no successful poll since the start {now - self.started_at:.0f} s ago")
        elif now - last > limit:
            reasons.append(f"last successful poll {now - last:.0f} s ago (limit {limit:.0f} s)")
        problem = check_state_dir_writable(self.ledger_path.parent)
        if problem:
            reasons.append(f"ledger not writable: {problem.split(';')[0]}")
        elif self.ledger_path.exists() and not os.access(self.ledger_path, os.W_OK):
            reasons.append(f"ledger not writable: {self.ledger_path}")
        details = {
            "status": "ok" if not reasons else "unhealthy",
            "last_successful_poll_seconds_ago": None if last is None else round(now - last, 1),
            "poll_interval_seconds": self.interval(),
            "reasons": reasons,
        }
        return not reasons, details
