"""Order ids the listener was told to look at, coalesced until the poll thread takes them.

The listener threads only add ids here and wake the poll thread; they never touch the ledger or
a platform. Many hints for one order before the next read become one read. The box is bounded:
past ``limit`` ids a flood is dropped (and counted), because the poll and the reconcile sweep
find those orders anyway. Ids are WooCommerce order ids (int) or a status source's tracking ids
(str, where ``EVERYTHING`` stands for a hint that named no order).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

DEFAULT_LIMIT = 10_000
_SEEN_DELIVERIES = 1_000  # replay keys remembered (32 characters each) to drop a replayed delivery
EVERYTHING = ""  # a tracking hint that names no order: read them all (no tracking id is empty)

K = TypeVar("K", int, str)


class HintBox(Generic[K]):
    """A thread-safe set of order ids with a wake-up callback when the first id arrives."""

    def __init__(self, wake: Callable[[], None] = lambda: None, limit: int = DEFAULT_LIMIT) -> None:
        self._lock = threading.Lock()
        self._ids: set[K] = set()
        self._deliveries: OrderedDict[str, None] = OrderedDict()
        self._wake_pending = False
        self.wake = wake
        self.limit = limit
        self.dropped = 0

    def add(self, order_id: K, replay_key: str = "") -> str:
        """Record a hint; returns 'queued', 'coalesced', 'duplicate' or 'dropped'.

        ``replay_key`` is what only a replay of the same delivery repeats (never a bare WooCommerce
        delivery id: that one is shared by every delivery of a webhook within one second).
        """
        with self._lock:
            if replay_key:
                if replay_key in self._deliveries:
                    return "duplicate"
                self._deliveries[replay_key] = None
                if len(self._deliveries) > _SEEN_DELIVERIES:
                    self._deliveries.popitem(last=False)
            if order_id in self._ids:
                return "coalesced"
            if len(self._ids) >= self.limit:
                self.dropped += 1
                return "dropped"
            self._ids.add(order_id)
            wake, self._wake_pending = not self._wake_pending, True
        if wake:
            self.wake()  # outside the lock: it may call into the scheduler
        return "queued"

    def take(self) -> list[K]:
        """Every id waiting, oldest id first; the next hint wakes the reader again."""
        with self._lock:
            ids, self._ids = sorted(self._ids), set()
            self._wake_pending = False
            return ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)
