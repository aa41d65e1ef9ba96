"""``GET /healthz``: is the daemon doing its job? A recent successful poll, no failed pass, a writable ledger."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sync_daemon.core.files import check_state_dir_writable


class Health:
    """Answers whether the last poll succeeded within 3 × the interval, the last pass did not fail, and the
    ledger can be written."""

    def __init__(
        self,
        ledger: Path | Callable[[], str | None],
        interval: Callable[[], float],
        last_success: Callable[[], float | None],
        clock: Callable[[], float] = time.time,
        last_pass_error: Callable[[], str | None] = lambda: None,
    ) -> None:
        # A SQLite ledger's file, checked here; or a callable naming what keeps a shared ledger from
        # being written (None when nothing does).
        self.ledger_problem = ledger if callable(ledger) else partial(_file_problem, Path(ledger))
        self.interval = interval
        self.last_success = last_success
        self.clock = clock
        # Why the last pass itself failed (a bug, the ledger refusing a write), until a pass succeeds.
        self.last_pass_error = last_pass_error
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
        problem = self.ledger_problem()
        if problem:
            reasons.append(f"ledger not writable: {problem}")
        failed = self.last_pass_error()
        if failed:
            reasons.append(f"the last pass failed: {failed}")
        details = {
            "status": "ok" if not reasons else "unhealthy",
            "last_successful_poll_seconds_ago": None if last is None else round(now - last, 1),
            "poll_interval_seconds": self.interval(),
            "reasons": reasons,
        }
        return not reasons, details


def _file_problem(path: Path) -> str | None:
    """Why a SQLite ledger file cannot be written, or None."""
    problem = check_state_dir_writable(path.parent)
    if problem:
        return problem.split(";")[0]
    if path.exists() and not os.access(path, os.W_OK):
        return str(path)
    return None
