"""Pauses of a destination: set in memory the moment a send learns of one, persisted with its batch.

A sender on a worker thread halts a destination at once (auth refused, quota, a 429, a run of
failures); the others check the same memory just before each send. The pass thread writes the
pause into the ledger together with the outcomes that caused it, so a restart keeps it.

After a wait the platform asked for (``throttled``), the destination is half-open: one request
goes first (``admit`` says which), and the others follow only once it came back with an answer
that is not another wait. Otherwise up to ``concurrency`` workers would leave together the moment
the wait ends, and the ones behind the first would land inside the next wait it is told of.

On a ledger several daemons share, a throttle is announced to the others at once (the ledger's
``announce_pause``: PostgreSQL NOTIFY) and each listens (``listen_for_pauses``), so no daemon goes on
sending into a wait another was told of; the ledger row, written with the batch, stays the truth
(a daemon started later, or one that missed the notice, reads it before it sends).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from sync_daemon.core.outcome import Outcome
from sync_daemon.ledger import Ledger

log = structlog.get_logger("sync_daemon.engine")

OUTAGE_AFTER_FAILURES = 8  # retryable failures in a row before a destination counts as down
THROTTLED = "throttled"  # the pause kind of a Retry-After wait: half-open when it ends
# A first request after a wait not back after this long (its thread abandoned at a stop, say) no
# longer holds the others: far above any platform's request timeout.
PROBE_EXPIRY_SECONDS = 300.0
Admission = Literal["refused", "probe", "open"]


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
        # After a throttle: "due" until a request is let through first, "out" while it is on its way.
        self._probes: dict[str, Literal["due", "out"]] = {}
        self._probe_sent: dict[str, float] = {}  # when the first request after the wait left
        self._lock = threading.Lock()
        self._stop_listening = ledger.listen_for_pauses(self._heard)

    def halt(self, name: str, kind: str, reason: str, seconds: float) -> None:
        """Pause a destination now, in memory (``persist`` writes it to the ledger).

        A throttle is announced to the other daemons of a shared ledger at once.
        """
        until = self.clock() + seconds
        self._hold(name, Halt(kind, reason, until), keep_longer=False)
        if kind == THROTTLED:
            try:
                self.ledger.announce_pause(name, kind=kind, reason=reason, until=until)
            except Exception as error:  # noqa: BLE001 - the ledger row, written with the batch, still tells them
                log.warning("could not announce the wait to the other daemons", destination=name, error=str(error))

    def _hold(self, name: str, halt: Halt, *, keep_longer: bool) -> None:
        with self._lock:
            current = self._halts.get(name)
            if not keep_longer or current is None or current.until <= halt.until:
                self._halts[name] = halt
            if halt.kind == THROTTLED:
                self._probes[name] = "due"

    def _heard(self, name: str, kind: str, reason: str, until: float) -> None:
        """Another daemon of the shared ledger was asked to wait: hold back this one's requests too."""
        if until > self.clock():
            self._hold(name, Halt(kind, reason, until), keep_longer=True)

    def halted(self, name: str) -> bool:
        """Whether a pause set in memory is in force, or the first request after a wait is still out:
        the check made before a row is taken, without the ledger."""
        with self._lock:
            halt = self._halts.get(name)
            probing = self._probe_out(name)
        return probing or (halt is not None and halt.until > self.clock())

    def admit(self, name: str) -> Admission:
        """Whether a request may leave now (just before it does): ``probe`` for the first one after a wait."""
        with self._lock:
            halt = self._halts.get(name)
            if halt is not None and halt.until > self.clock():
                return "refused"
            if self._probe_out(name):
                return "refused"
            if self._probes.get(name) is not None:
                self._probes[name] = "out"
                self._probe_sent[name] = self.clock()
                return "probe"
        return "open"

    def _probe_out(self, name: str) -> bool:
        """Whether the first request after a wait is on its way (under the lock)."""
        if self._probes.get(name) != "out":
            return False
        if self.clock() - self._probe_sent.get(name, 0.0) > PROBE_EXPIRY_SECONDS:
            self._probes[name] = "due"
            return False
        return True

    def probed(self, name: str, outcome: Outcome) -> None:
        """The first request after a wait came back: an answer that is not a wait lets the others go."""
        with self._lock:
            if self._probes.get(name) != "out":
                return  # a new wait has set it "due" again meanwhile
            answered = outcome.kind in ("delivered", "rejected") or (
                outcome.kind == "retry" and outcome.http_status is not None and outcome.http_status != 429
            )
            if answered:
                del self._probes[name]
            else:
                self._probes[name] = "due"  # no answer (timeout, reset): the next request goes first

    def close(self) -> None:
        """Stop listening for other daemons' waits."""
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

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
            self._probes.pop(name, None)

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
