"""Deliveries in flight during one pass: per destination, runners that send one request at a time.

Each destination has up to ``concurrency`` runners, one per worker thread. A runner takes the next
due row, commits it ``sending`` together with the outcome of its previous request (one transaction,
shared with whatever the other runners commit at that moment), sends it, and goes on. So an outcome
is in the ledger before its runner sends anything else, and ``sending`` means "a request is out": a
crash or ``kill -9`` sends again at most the requests that were in flight, one per runner. Runners
take rows from a queue per destination and fill it from the ledger themselves when it runs dry, so
deliveries go on while the pass thread reads WooCommerce, and one slow or paused platform holds up
neither the others nor the reading of the next page.

The pass thread starts runners (``pump``), waits for them (``drain``), and before it records orders
again waits for their requests to come back (``settle``): ingest never meets a row in ``sending``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from sync_daemon.core.outcome import Due, Outcome
from sync_daemon.engine.group_commit import GroupCommit

log = structlog.get_logger("sync_daemon.dispatch")

STOP_GRACE_SECONDS = 5.0
IDLE_CHECK_SECONDS = 1.0  # how often a waiting pass thread looks at the stop event on its own


@dataclass(frozen=True)
class Lanes:
    """What the dispatcher needs of the rest of the engine: the lanes, the ledger's queue, the senders."""

    names: Sequence[str]  # the destinations, in delivery order
    concurrency: Mapping[str, int]  # runners (worker threads) per destination
    due: Callable[[str, int], list[Due]]  # (destination, limit) → rows whose time has come
    # One transaction: these outcomes, and these rows marked ``sending`` (runs on a worker thread);
    # returns the rows that were not ours to mark (another daemon took them: a shared ledger).
    record: Callable[[Sequence[Outcome], Sequence[Due]], Sequence[Due]]
    send: Callable[[Due], Outcome]  # one request and its outcome (runs on a worker thread)
    submit: Callable[[str, Callable[[], None]], object]  # run on that destination's worker pool
    paused: Callable[[str], object | None]  # the pause in force, if any (memory or ledger)
    halted: Callable[[str], bool]  # a pause set in memory: checked before each row is taken
    tally: Callable[[Mapping[str, int]], None]  # outcomes by kind, added up on the pass thread
    stop_event: threading.Event
    batch_size: int  # rows read from the ledger at a time, per destination
    on_progress: Callable[[], None]
    # Take no new row after this many seconds (a pass that only delivers must not outlast the moment
    # its daemon takes the lead and should poll); None: until nothing is due.
    budget_seconds: float | None = None


@dataclass
class _Lane:
    name: str
    concurrency: int
    waiting: deque[Due] = field(default_factory=deque)  # read from the ledger, not taken yet
    out: set[int] = field(default_factory=set)  # orders taken by a runner: marking, in flight, recording
    runners: int = 0
    # Runners were held back by a pause, or while the first request after a wait is out: when that
    # request comes back and the destination is open again, the pass thread starts them.
    held_back: bool = False


@dataclass
class _Handover:
    """What a runner commits at once: its last outcome and the row it is about to send."""

    finished: Outcome | None
    next_row: Due | None


class Dispatcher:
    """One pass's deliveries; used from the pass thread, carried out by runners on the worker threads."""

    def __init__(self, lanes: Lanes) -> None:
        self.lanes = lanes
        self._lanes = [_Lane(name, max(lanes.concurrency.get(name, 1), 1)) for name in lanes.names]
        self._lock = threading.Lock()
        self._commit: GroupCommit[_Handover] = GroupCommit(self._write)
        self._held: set[int] = set()  # orders being recorded again: no new request until the next pump
        # Lanes whose last look at the ledger found nothing due, with nothing recorded since: drain
        # does not ask again right after the pump that asked (an idle pass asks once, not twice).
        self._none_due: set[str] = set()
        self._lost: set[tuple[str, int]] = set()  # rows whose ``sending`` mark did not take: never sent
        self._settling = False  # the pass thread waits in settle: wake it per request that comes back
        self._tally: Counter[str] = Counter()
        self._error: BaseException | None = None
        self._abandoned = False
        self._grace_ends: float | None = None
        # The pass thread sleeps here; runners wake it when they stop (and, during settle, per request).
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        budget = lanes.budget_seconds
        self._deadline = None if budget is None else time.monotonic() + budget

    # -- the pass thread ----------------------------------------------------------------------

    def pump(self) -> None:
        """Start runners where a destination has rows due and threads free; never waits."""
        self._pump(ask_again=True)

    def _pump(self, *, ask_again: bool) -> None:
        self._raise_if_failed()
        with self._lock:
            self._held.clear()  # the pass has recorded what settle held back
        self._fold_tally()
        for lane in self._lanes:
            self._start(lane, ask_again)

    def settle(self, order_ids: Iterable[int]) -> None:
        """Wait until no request in flight concerns these orders, so they can be recorded again.

        Until the next ``pump`` (by then the pass has recorded them), no runner takes them either.
        """
        wanted = set(order_ids)
        with self._lock:
            self._none_due.clear()  # the pass records orders next: rows may become due
        if not wanted:
            return
        with self._lock:
            self._held |= wanted
            for lane in self._lanes:
                if any(due.order_id in wanted for due in lane.waiting):
                    # Not sent yet: drop them; the ledger still has them due, with what ingest writes.
                    lane.waiting = deque(due for due in lane.waiting if due.order_id not in wanted)
            self._settling = True
        try:
            while True:
                with self._lock:
                    busy = any(lane.out & wanted for lane in self._lanes)
                if not busy or not self._wait():
                    return
                self._raise_if_failed()
        finally:
            with self._lock:
                self._settling = False

    def drain(self) -> None:
        """Deliver until nothing is due or in flight, or, once stopping, the grace period is over."""
        try:
            ask_again = False  # the pump that ran last (after the last page) has just looked
            while True:
                self._pump(ask_again=ask_again)
                ask_again = True
                with self._lock:
                    busy = any(lane.runners for lane in self._lanes)
                if not busy or not self._wait():
                    break
            self._raise_if_failed()
        finally:
            self._fold_tally()

    def _over_budget(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _start(self, lane: _Lane, ask_again: bool = True) -> None:
        if self.lanes.stop_event.is_set() or self._over_budget():
            return
        if not ask_again and lane.name in self._none_due:
            return
        with self._lock:
            if not lane.waiting and lane.runners < lane.concurrency:
                self._refill(lane)
            if not lane.waiting:
                return  # nothing to send: whether the destination is paused does not matter (one query less)
        if self.lanes.paused(lane.name) or self.lanes.halted(lane.name):
            with self._lock:
                lane.waiting.clear()  # left due in the ledger for when the pause is over
                lane.held_back = True
            return
        with self._lock:
            if lane.runners >= lane.concurrency:
                return
            starting = min(lane.concurrency - lane.runners, len(lane.waiting))
            lane.runners += starting
        for _ in range(starting):
            self.lanes.submit(lane.name, lambda lane=lane: self._run(lane))

    def _wait(self) -> bool:
        """Sleep until a runner reports; False when stopping and the grace period ran out."""
        if self._abandoned:
            return False
        while True:
            timeout = IDLE_CHECK_SECONDS
            if self.lanes.stop_event.is_set():
                if self._grace_ends is None:
                    self._grace_ends = time.monotonic() + STOP_GRACE_SECONDS
                timeout = max(0.0, self._grace_ends - time.monotonic())
            try:
                self._wake.get(timeout=timeout)
                break
            except queue.Empty:
                if self.lanes.stop_event.is_set() and time.monotonic() >= (self._grace_ends or 0.0):
                    self._abandon()
                    return False
        while not self._wake.empty():
            self._wake.get()
        return True

    def _abandon(self) -> None:
        """Stopping: what is still out stays ``sending`` and goes out again at start."""
        with self._lock:
            self._abandoned = True
            still_out = sum(len(lane.out) for lane in self._lanes)
            for lane in self._lanes:
                lane.waiting.clear()
        log.warning("stopping with requests in flight; they stay 'sending' and go out again at start", count=still_out)

    def _fold_tally(self) -> None:
        with self._lock:
            counts, self._tally = self._tally, Counter()
        if counts:
            self.lanes.tally(counts)

    def _raise_if_failed(self) -> None:
        if self._error is not None and not self._abandoned:
            raise self._error

    # -- the runners (worker threads) -------------------------------------------------------

    def _run(self, lane: _Lane) -> None:
        """Send rows of one destination one at a time, each outcome committed before the next request."""
        finished: Outcome | None = None
        next_row: Due | None = None
        try:
            while True:
                next_row = self._take(lane)
                if self._abandoned:
                    return  # the pass is over: the ledger keeps 'sending', as after a crash
                if finished is None and next_row is None:
                    return
                self._commit.submit(_Handover(finished, next_row))
                if finished is not None:
                    self._release(lane, finished.order_id)
                    finished = None
                if next_row is not None and self._was_lost(next_row):
                    self._release(lane, next_row.order_id)  # another daemon sends it: take the next one
                    next_row = None
                    continue
                if next_row is None:
                    return
                finished, next_row = self.lanes.send(next_row), None
                if lane.held_back and not self.lanes.halted(lane.name):
                    self._reopened(lane)
        except BaseException as error:  # noqa: BLE001 - reported to the pass thread, which raises it
            with self._lock:
                if self._error is None:
                    self._error = error
        finally:
            with self._lock:
                lane.runners -= 1
                for row in (finished, next_row):
                    if row is not None:
                        lane.out.discard(row.order_id)
            self._wake.put(None)

    def _reopened(self, lane: _Lane) -> None:
        """The destination is open again (the first request after a wait came back): wake the pass
        thread, which starts the runners that were held back."""
        with self._lock:
            lane.held_back = False
        self._wake.put(None)

    def _take(self, lane: _Lane) -> Due | None:
        """The next row to send, read from the ledger when the queue is empty; None when there is none."""
        with self._lock:
            if self._error is not None or self._abandoned or self.lanes.stop_event.is_set() or self._over_budget():
                return None
            if self.lanes.halted(lane.name):
                lane.waiting.clear()
                lane.held_back = True
                return None
            if not lane.waiting:
                self._refill(lane)
            if not lane.waiting:
                return None
            due = lane.waiting.popleft()
            lane.out.add(due.order_id)
            return due

    def _refill(self, lane: _Lane) -> None:
        """Queue the destination's due rows, but none taken already or held back (under the lock)."""
        # Rows taken but whose 'sending' mark is not committed yet still look due: read past them.
        limit = self.lanes.batch_size + len(lane.out) + len(self._held)
        lane.waiting.extend(
            due
            for due in self.lanes.due(lane.name, limit)
            if due.order_id not in lane.out and due.order_id not in self._held
        )
        while len(lane.waiting) > self.lanes.batch_size:
            lane.waiting.pop()
        if lane.waiting:
            self._none_due.discard(lane.name)
        else:
            self._none_due.add(lane.name)

    def _write(self, handovers: Sequence[_Handover]) -> None:
        """One transaction for a group of runners (GroupCommit calls this on one of their threads)."""
        outcomes = [handover.finished for handover in handovers if handover.finished is not None]
        rows = [handover.next_row for handover in handovers if handover.next_row is not None]
        lost = self.lanes.record(outcomes, rows)
        with self._lock:
            if outcomes:
                self._none_due.clear()  # an outcome can make its row due again at once (a skip)
            for outcome in outcomes:
                self._tally[outcome.kind] += 1
            self._lost.update((due.destination, due.order_id) for due in lost)

    def _was_lost(self, due: Due) -> bool:
        """Whether the row's ``sending`` mark did not take (and forget it: it is settled)."""
        key = (due.destination, due.order_id)
        with self._lock:
            if key not in self._lost:
                return False
            self._lost.discard(key)
            return True

    def _release(self, lane: _Lane, order_id: int) -> None:
        """A request is back and recorded: its order may be taken or recorded again."""
        with self._lock:
            lane.out.discard(order_id)
            wake = self._settling and order_id in self._held
        if wake:
            self._wake.put(None)
        self.lanes.on_progress()  # a request that came back (even a timeout) is progress
