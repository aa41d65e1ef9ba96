"""OrderRepo's statuses read back into the ledger: the list endpoint, filtered by status, page by page."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import structlog

from sync_daemon.core.errors import SyncError
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import ShopContext, StatusStore
from sync_daemon.platforms.orderrepo.client import STATUSES, OrderRepoClient, origin_for
from sync_daemon.platforms.orderrepo.mapping import external_id, order_id_from_external
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings

log = structlog.get_logger("sync_daemon.engine")

INITIAL_STATUS = "new"  # every order starts there: not worth a note
STORE_BATCH = 500  # statuses written to the ledger per transaction


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

    def rows(self) -> Iterator[tuple[int, str, str | None]]:
        """(WooCommerce order id, status, updated_at) of every order of ours, via the list endpoint."""
        for status in STATUSES:
            for row in self.client.iter_orders(status):
                order_id = order_id_from_external(str(row.get("external_id", "")), self.settings.id_prefix)
                if order_id is not None:
                    yield order_id, str(row.get("status") or status), row.get("updated_at")

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
        changed = 0
        batch: list[tuple[int, str, str | None]] = []
        try:
            for row in self.rows():
                batch.append(row)
                if len(batch) >= STORE_BATCH:
                    changed += store.update_remote_statuses(self.name, batch, now=now)
                    batch = []
            changed += store.update_remote_statuses(self.name, batch, now=now)
        except SyncError as error:
            changed += store.update_remote_statuses(self.name, batch, now=now)
            log.warning("status pull failed; next pull tries again", destination=self.name, error=str(error))
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
