"""Group commit: what many worker threads hand in at about the same time goes into one transaction.

Each thread waits until its own item is written, so an outcome is in the ledger before its thread
sends anything else. The first thread to arrive while no write is running writes everything
handed in so far; whoever arrives during that write waits, and the next of them writes the
whole group that gathered meanwhile. A commit in WAL mode with ``synchronous=NORMAL`` costs little
(no fsync), but it costs the same for one item as for ten: grouping keeps that cost per
transaction, not per request, when the platforms answer fast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    """Serialises ``write`` calls and batches the items handed in while one runs."""

    def __init__(self, write: Callable[[Sequence[Item]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)
        self._pending: list[Item] = []
        self._writing = False
        self._next_group = 1  # the group the items handed in now will be written in
        self._last_written = 0  # the last group written (or failed)
        self._error: BaseException | None = None  # a failed write fails every later one too

    def submit(self, item: Item) -> None:
        """Return once ``item`` is written; raise what the write raised if it failed."""
        with self._lock:
            self._pending.append(item)
            group = self._next_group
            while self._writing and self._last_written < group:
                self._written.wait()
            if self._last_written >= group:  # another thread wrote it
                if self._error is not None:
                    raise self._error
                return
            if self._error is not None:
                raise self._error
            items, self._pending = self._pending, []
            self._next_group += 1
            self._writing = True
        error: BaseException | None = None
        try:
            self._write(items)
        except BaseException as raised:  # noqa: BLE001 - handed to every thread of the group, then re-raised
            error = raised
        with self._lock:
            self._writing = False
            self._last_written = group
            if error is not None and self._error is None:
                self._error = error
            self._written.notify_all()
        if error is not None:
            raise error
