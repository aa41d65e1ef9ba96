"""Group commit: what many worker threads hand in at about the same time goes into one transaction.

Each thread waits until its own item is written, so an outcome is in the ledger before its thread
sends anything else. A thread that arrives while no write is running writes (after the pause said
below). Whoever arrives during a write waits; when the write ends, the threads of its group are woken, and so is
the first thread that arrived meanwhile, which then writes everything handed in by the time it
runs (newcomers keep joining it until then). Each waiting thread thus wakes once, when its item is
written or when it is its turn to write, instead of every waiting thread at the end of every
write, most of them only to find their group not written yet and sleep again (with eight senders,
those wake-ups were a good part of the daemon's thread switches, each a turn of the interpreter
lock). A commit in WAL mode with ``synchronous=NORMAL`` costs little (no fsync), but it costs the
same for one item as for ten: grouping keeps that cost per transaction, not per request, when the
platforms answer fast.

A thread that finds no write running does not write at once: it first lets the other threads
run (``time.sleep(0)`` gives up the interpreter lock), so those that already hold an answer join its
write instead of each starting one of their own right after. A commit costs about as much for one
item as for four (most of it is writing the changed pages to the write-ahead log), and without the
pause a thread running alone on a core would nearly always write alone: measured, 6–11 % less CPU
for a backfill (``bench/backfill.py``), the outcomes still each committed before their thread sends
again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")

_WAITING, _WRITTEN, _FAILED, _LEADS = range(4)


def _let_others_run() -> None:
    """Give up the interpreter lock once: every thread that is ready runs until it waits."""
    time.sleep(0)


class _Ticket(Generic[Item]):
    """One waiting item, with the lock its thread sleeps on until someone says what became of it."""

    __slots__ = ("item", "outcome", "woken")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.outcome = _WAITING
        self.woken = threading.Lock()
        self.woken.acquire()


class GroupCommit(Generic[Item]):
    """Serialises ``write`` calls and batches the items handed in while one runs."""

    def __init__(self, write: Callable[[Sequence[Item]], None], linger: Callable[[], None] = _let_others_run) -> None:
        self._write = write
        self._linger = linger  # what a thread that is to write alone does first (see the module's doc)
        self._lock = threading.Lock()
        self._writing = False
        self._next: list[_Ticket[Item]] = []  # handed in while a write runs: the next group
        self._error: BaseException | None = None  # a failed write fails every later one too

    def submit(self, item: Item) -> None:
        """Return once ``item`` is written; raise what the write raised if it failed."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._writing:
                ticket: _Ticket[Item] | None = _Ticket(item)
                self._next.append(ticket)
            else:
                self._writing, ticket = True, None
        if ticket is None:
            try:
                self._linger()  # threads with an answer in hand join this write meanwhile
            finally:  # (whatever happens, those who joined are written and woken)
                with self._lock:
                    group, self._next = self._next, []
                self._lead([item, *(other.item for other in group)], group)
            return
        ticket.woken.acquire()  # until written, failed, or it is this thread's turn to write
        if ticket.outcome == _WRITTEN:
            return
        if ticket.outcome == _FAILED:
            raise self._error or RuntimeError("group commit failed")
        with self._lock:  # this thread's turn: everything handed in by now, its own item first
            group, self._next = self._next, []
        others = group[1:]
        self._lead([item, *(other.item for other in others)], others)

    def _lead(self, items: list[Item], others: Sequence[_Ticket[Item]]) -> None:
        """Write a group (this thread's item first), wake its other threads, hand the next group over."""
        error: BaseException | None = None
        try:
            self._write(items)
        except BaseException as raised:  # noqa: BLE001 - handed to every thread of the group, then re-raised
            error = raised
        # Who is woken to write next, or to hear of a failure, is decided under the lock and only
        # then acted on: ``self._next`` is the list newcomers append to once the lock is let go (a
        # new writer may even have started), so it must not be looked at again outside the lock.
        successor: _Ticket[Item] | None = None
        with self._lock:
            if error is not None and self._error is None:
                self._error = error
            failed = self._error is not None
            waiting = self._next
            if failed:
                self._next = []  # (detached: later submits raise at once and never join it)
            elif waiting:
                # The first one waiting writes next; until it takes the group (and all who join it
                # meanwhile), newcomers keep joining it rather than starting a write of their own.
                successor = waiting[0]
                successor.outcome = _LEADS
            if successor is None:
                self._writing = False
        for other in others:
            other.outcome = _FAILED if error is not None else _WRITTEN
            other.woken.release()
        if failed:  # nothing more is written: everyone waiting hears why
            for other in waiting:
                other.outcome = _FAILED
                other.woken.release()
        elif successor is not None:
            successor.woken.release()
        if error is not None:
            raise error
