"""OrderRepo's statuses read back into the ledger: the list endpoint, every status, page by page.

A batch of statuses exactly as the last pull stored it (the same orders, statuses and update times,
in the same order) is not written again: nothing in it can change a row. Every ``FULL_PULL_EVERY``-th
pull, the first one, and the one after a failure store every batch all the same, so a row that only
became delivered since (and whose order OrderRepo shows as it did) gets its status all the same.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence

import structlog

from sync_daemon.core.errors import SyncError
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import ShopContext, StatusStore
from sync_daemon.platforms.orderrepo.client import OrderRepoClient, origin_for
from sync_daemon.platforms.orderrepo.mapping import external_id, order_id_from_external
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings

log = structlog.get_logger("sync_daemon.engine")

INITIAL_STATUS = "new"  # every order starts there: not worth a note
STORE_BATCH = 500  # statuses written to the ledger per transaction
FULL_PULL_EVERY = 12  # every 12th pull writes unchanged batches too (once an hour at the default interval)


class OrderRepoStatuses:
    """Reads the status of every order of ours; kept on the OrderRepo delivery rows."""

    name = NAME
    title = PLATFORM
    kind = "delivery"
    quiet_statuses = frozenset({INITIAL_STATUS})

    def __init__(self, settings: OrderRepoSettings, shop: ShopContext) -> None:
        self.settings = settings
        self.interval_seconds = settings.status_pull_interval_seconds
        self.client = OrderRepoClient(settings, origin_for(settings, shop))
        self._stored: list[bytes] = []  # digest of each batch the last complete pull read, in order
        self._pulls_since_full = 0

    def rows(self) -> Iterator[tuple[int, str, str | None]]:
        """(WooCommerce order id, status, updated_at) of every order of ours, via the list endpoint.

        One listing of every status (``status`` is only a filter of the list endpoint; the connection
        check reads it without one too): ⌈orders / 100⌉ requests, not one or more per status, and an
        order whose status changes while the list is read cannot move from a list not read yet into
        one already read.
        """
        prefix = self.settings.id_prefix
        for row in self.client.iter_orders():
            status = row.get("status")
            if not status:
                continue  # a row without its status says nothing to store
            order_id = order_id_from_external(str(row.get("external_id", "")), prefix)
            if order_id is not None:
                yield order_id, str(status), row.get("updated_at")

    def pull(
        self,
        store: StatusStore,
        *,
        now: float,
        stop: threading.Event,
        progress: Callable[[], None],
        only: Sequence[str] | None = None,
    ) -> int:
        """Store every changed status; what was read before a failure is kept."""
        # ``only`` is ignored: statuses come from the list endpoint, all of them at once.
        previous, self._stored = self._stored, []  # a pull that does not finish leaves the next one full
        full = not previous or self._pulls_since_full + 1 >= FULL_PULL_EVERY
        digests: list[bytes] = []
        changed = 0

        def save(rows: list[tuple[int, str, str | None]]) -> int:
            digest = hashlib.blake2b(repr(rows).encode(), digest_size=16).digest()
            digests.append(digest)
            if not full and len(digests) <= len(previous) and previous[len(digests) - 1] == digest:
                return 0  # as the last pull stored them
            return store.update_remote_statuses(self.name, rows, now=now)

        batch: list[tuple[int, str, str | None]] = []
        try:
            for row in self.rows():
                batch.append(row)
                if len(batch) >= STORE_BATCH:
                    changed += save(batch)
                    batch = []
            changed += save(batch)
        except SyncError as error:
            changed += store.update_remote_statuses(self.name, batch, now=now)
            log.warning("status pull failed; next pull tries again", destination=self.name, error=str(error))
        else:
            self._stored = digests
            self._pulls_since_full = 0 if full else self._pulls_since_full + 1
        progress()
        return changed

    def fetch_one(self, order_id: int) -> tuple[str, str | None] | None:
        """One order's (status, updated_at), or None when OrderRepo does not have it."""
        data = self.client.get_order(external_id(order_id, self.settings.id_prefix))
        return None if data is None else (str(data.get("status")), data.get("updated_at"))

    def tracking_id(self, order: Order) -> str | None:
        """Statuses are kept on the delivery rows: nothing to track by."""
        return None

    def close(self) -> None:
        """Close pooled connections."""
        self.client.session.close()
