"""Pauses of a destination: set in memory the moment a send learns of one, persisted with its batch.

A sender on a worker thread halts a destination at once (auth refused, quota, a 429, a run of
failures); the others check the same memory just before each send. The pass thread writes the
pause into the ledger together with the outcomes that caused it, so a restart keeps it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from sync_daemon.core.outcome import Outcome
from sync_daemon.ledger import Ledger

log = structlog.get_logger("sync_daemon.engine")

OUTAGE_AFTER_FAILURES = 8  # retryable failures in a row before a destination counts as down


@dataclass
class Halt:
    """A pause in force: why, and until when (epoch seconds)."""

    kind: str
    reason: str
    until: float


class Pauses:
    """The destinations' pauses, in memory and in the ledger, and the outage counter."""

    def __init__(self, ledger: Ledger, *, outage_pause_seconds: float, clock: Callable[[], float]) -> None:
        self.ledger = ledger
        self.outage_pause_seconds = outage_pause_seconds
        self.clock = clock
        self._halts: dict[str, Halt] = {}
        self._failures: dict[str, int] = {}  # retryable failures in a row, per destination
        self._lock = threading.Lock()

    def halt(self, name: str, kind: str, reason: str, seconds: float) -> None:
        """Pause a destination now, in memory (``persist`` writes it to the ledger)."""
        with self._lock:
            self._halts[name] = Halt(kind, reason, self.clock() + seconds)

    def halted(self, name: str) -> bool:
        """Whether a pause set in memory is in force: the check made just before each send, without the ledger."""
        with self._lock:
            halt = self._halts.get(name)
        return halt is not None and halt.until > self.clock()

    def current(self, name: str) -> Halt | None:
        """The pause in force for a destination, from memory or the ledger."""
        now = self.clock()
        with self._lock:
            halt = self._halts.get(name)
            if halt and halt.until > now:
                return halt
            self._halts.pop(name, None)
        record = self.ledger.destination(name)
        if record.get("paused_until") and record["paused_until"] > now:
            return Halt(record["pause_kind"], record["pause_reason"] or "", record["paused_until"])
        return None

    def lift(self, name: str) -> None:
        """End a destination's pause, in memory and in the ledger (it accepted an order again)."""
        self.ledger.resume_destination(name)
        with self._lock:
            self._halts.pop(name, None)

    def count(self, name: str, outcome: Outcome) -> None:
        """A run of retryable failures means the platform is down: pause it briefly, so that a
        batch of timeouts does not hold the pass for batch size × timeout / concurrency."""
        if outcome.kind == "skipped" or outcome.http_status == 429:
            return
        with self._lock:
            failures = self._failures.get(name, 0) + 1 if outcome.kind == "retry" else 0
            self._failures[name] = 0 if failures >= OUTAGE_AFTER_FAILURES else failures
        if failures >= OUTAGE_AFTER_FAILURES:
            seconds = self.outage_pause_seconds
            reason = f"{failures} requests in a row failed (last: {outcome.message}); trying again in {seconds:.0f} s"
            self.halt(name, "outage", reason, seconds)

    def persist(self, names: Sequence[str], *, now: float) -> None:
        """Write the pauses set in memory for these destinations into the ledger, when they are new or longer."""
        with self._lock:
            halts = dict(self._halts)
        for name, halt in halts.items():
            if name in names and (self.ledger.destination(name).get("paused_until") or 0) < halt.until:
                self.ledger.pause_destination(name, kind=halt.kind, reason=halt.reason, until=halt.until, now=now)
                log.error(
                    "destination paused",
                    destination=name,
                    kind=halt.kind,
                    reason=halt.reason,
                    seconds=round(halt.until - now),
                )
