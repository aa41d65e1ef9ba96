"""Deliveries in flight during one pass: a batch per destination, recorded as each completes.

The pass thread hands batches to the destinations' worker pools and goes on reading WooCommerce;
it records a batch in the ledger (one transaction) once all its requests are back. So a slow
platform neither delays the others nor the reading of the next page, and the ledger is written
from the pass thread only. An order is never recorded again while one of its requests is out:
``settle`` waits for those first, so ingest never meets a row in ``sending``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog

from sync_daemon.core.outcome import Due, Outcome

log = structlog.get_logger("sync_daemon.dispatch")

STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Lanes:
    """What the dispatcher needs of the rest of the engine: the lanes, the ledger's queue, the senders."""

    names: Sequence[str]  # the destinations, in delivery order
    due: Callable[[str, int], list[Due]]  # (destination, limit) → rows whose time has come
    mark_sending: Callable[[Sequence[Due]], None]  # one transaction, before any request leaves
    submit: Callable[[str, Due], Future[Outcome]]  # a send on that destination's worker pool
    record: Callable[[Sequence[Outcome], Sequence[str]], None]  # finished sends of these destinations
    paused: Callable[[str], object | None]  # the pause in force, if any
    stop_event: threading.Event
    batch_size: int
    on_progress: Callable[[], None]


@dataclass
class _Batch:
    orders: frozenset[int]
    left: int  # requests still out, under the dispatcher's lock
    done: list[Future[Outcome]] = field(default_factory=list)


class Dispatcher:
    """One pass's deliveries; used from the pass thread, fed by the worker threads' callbacks."""

    def __init__(self, lanes: Lanes) -> None:
        self.lanes = lanes
        self._batches: dict[str, _Batch] = {}  # destination → batch in flight
        self._lock = threading.Lock()
        # The pass thread wakes once per finished batch (and per request once stopping), not once
        # per request: every wake-up costs the senders a hand-over of the interpreter lock.
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()

    def pump(self) -> None:
        """Record the batches that are back and start new ones where a destination is idle; never waits."""
        self._record_finished()
        self._start_batches()

    def settle(self, order_ids: Iterable[int]) -> None:
        """Wait until no request in flight concerns these orders, so they can be recorded again."""
        wanted = set(order_ids)
        while any(batch.orders & wanted for batch in self._batches.values()):
            if not self._wait():
                return
            self._record_finished()

    def drain(self) -> None:
        """Deliver until nothing is due or in flight, or, once stopping, the grace period is over."""
        while True:
            self.pump()
            if not self._batches or not self._wait():
                return

    def _start_batches(self) -> None:
        lanes = self.lanes
        if lanes.stop_event.is_set():
            return
        for name in lanes.names:
            if name in self._batches or lanes.paused(name):
                continue
            batch = lanes.due(name, lanes.batch_size)
            if not batch:
                continue
            lanes.mark_sending(batch)
            record = _Batch(frozenset(due.order_id for due in batch), left=len(batch))
            self._batches[name] = record
            for due in batch:
                future = lanes.submit(name, due)
                future.add_done_callback(lambda done, record=record: self._on_done(record, done))

    def _on_done(self, batch: _Batch, future: Future[Outcome]) -> None:
        with self._lock:
            batch.done.append(future)
            batch.left -= 1
            last = not batch.left
        self.lanes.on_progress()  # a request that came back (even a timeout) is progress
        if last or self.lanes.stop_event.is_set():
            self._wake.put(None)

    def _wait(self) -> bool:
        """Sleep until a batch is back; False when stopping and the grace period ran out."""
        timeout = STOP_GRACE_SECONDS if self.lanes.stop_event.is_set() else None
        try:
            self._wake.get(timeout=timeout)
        except queue.Empty:
            self._abandon()
            return False
        while not self._wake.empty():
            self._wake.get()
        return True

    def _record_finished(self, *, partial: bool = False) -> None:
        with self._lock:
            names = [name for name, batch in self._batches.items() if partial or not batch.left]
            outcomes = []
            for name in names:
                batch = self._batches[name]
                outcomes += [future.result() for future in batch.done]
                batch.done = []
                if not batch.left:
                    del self._batches[name]
        self.lanes.record(outcomes, names)

    def _abandon(self) -> None:
        """Stopping: record what came back; the rest stays ``sending`` and goes out again at start."""
        self._record_finished(partial=True)
        with self._lock:
            still_out = sum(batch.left for batch in self._batches.values())
            self._batches.clear()
        log.warning("stopping with requests in flight; they stay 'sending' and go out again at start", count=still_out)
