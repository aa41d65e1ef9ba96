"""OrderRepo events: one order lifecycle moment sent once per order, as a ledger lane of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync_daemon.core.errors import (
    ConfigurationError,
    NotApplicable,
)
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import MappingResult, PushResult, ShopContext

if TYPE_CHECKING:
    pass

from sync_daemon.platforms.orderrepo.client import OrderRepoClient, _message, origin_for
from sync_daemon.platforms.orderrepo.mapping import _data_pairs, external_id
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings


class OrderRepoEventDestination:
    """One order lifecycle moment sent as an OrderRepo event, once per order (a ledger row of its own)."""

    section = NAME
    supports_update = False

    def __init__(self, settings: OrderRepoSettings, shop: ShopContext, moment: str) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self.moment = moment
        self.event_key = settings.events[moment]
        self.name = f"{NAME}-event-{moment}"
        self.client = OrderRepoClient(settings, origin_for(settings, shop))

    def map_order(self, order: Order) -> MappingResult:
        """The event payload when the order is at this moment; NotApplicable otherwise."""
        if self.moment != "created" and order.status != self.moment:
            raise NotApplicable(f"order is {order.status}, not {self.moment}")
        data = [
            {"name": "Order id", "value": external_id(order.id, self.settings.id_prefix)},
            *_data_pairs(order, list(self.settings.data_fields)),
        ]
        return MappingResult(payload={"event": self.event_key, "data": data})

    def push(self, payload: dict[str, Any], *, operation: str = "create", remote_id: str | None = None) -> PushResult:
        """POST the event; an unknown or inactive event key pauses this event until config changes."""
        response = self.client.request("POST", "/api/events/track", json=payload)
        if response.status_code == 401 and "event" in _message(response).lower():
            raise ConfigurationError(
                f"{PLATFORM}: event key for '{self.moment}' refused ({_message(response)}): check orderrepo.events "
                "and that the event is active in the project",
                http_status=401,
            )
        self.client.raise_for_status(response)
        return PushResult(remote_id=None, detail=f"event {self.moment} sent")

    def close(self) -> None:
        """Close pooled connections."""
        self.client.session.close()
