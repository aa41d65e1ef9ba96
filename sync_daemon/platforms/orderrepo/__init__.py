"""OrderRepo: create, update, read status, send events (``X-API-KEY`` + ``Origin``).

``mapping.py`` holds the payload rules, ``client.py`` the answers (the contract's error table),
``events.py`` the lifecycle events (a ledger lane each), ``statuses.py`` the status pull and
``check.py`` the connection check.
"""

from __future__ import annotations

from typing import ClassVar

from sync_daemon.platforms.base import (
    CheckResult,
    ConnectionSpec,
    Destination,
    Field,
    PlatformBase,
    StatusSource,
)
from sync_daemon.platforms.orderrepo.check import base_url_findings, check_connection
from sync_daemon.platforms.orderrepo.client import OrderRepoDestination
from sync_daemon.platforms.orderrepo.events import OrderRepoEventDestination
from sync_daemon.platforms.orderrepo.mapping import map_order, order_id_from_external
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings
from sync_daemon.platforms.orderrepo.statuses import OrderRepoStatuses

__all__ = [
    "OrderRepo",
    "OrderRepoDestination",
    "OrderRepoEventDestination",
    "OrderRepoSettings",
    "OrderRepoStatuses",
    "map_order",
    "order_id_from_external",
]


class OrderRepo(PlatformBase):
    """OrderRepo: the order lane, one lane per configured event, and the status pull."""

    name = NAME
    title = PLATFORM
    Settings = OrderRepoSettings
    status_map_default: ClassVar[dict[str, str] | None] = {"done": "completed", "cancelled": "cancelled"}
    connection: ClassVar[ConnectionSpec] = ConnectionSpec(
        title=PLATFORM,
        dashboard="the OrderRepo project → API keys",
        fields=(
            Field("base_url", "endpoint", "base URL", hidden=False, kind="url"),
            Field("api_key", "secret", "API key"),
            Field("origin", "extra", "Origin (a domain added to the project)", hidden=False, kind="url",
                  optional=True),
        ),
        preflight=base_url_findings,
    )

    def build_destinations(self) -> list[Destination]:
        """Orders, then each configured event as a lane of its own (each sent once, retried on its own)."""
        lanes: list[Destination] = [OrderRepoDestination(self.settings, self.shop)]
        lanes += [OrderRepoEventDestination(self.settings, self.shop, moment) for moment in self.settings.events]
        return lanes

    def build_status_sources(self) -> list[StatusSource]:
        """The status pull of delivered orders."""
        return [OrderRepoStatuses(self.settings, self.shop)]

    def check(self) -> CheckResult:
        """The read endpoint proves the key; a deliberately invalid write proves the Origin."""
        destination = OrderRepoDestination(self.settings, self.shop)
        try:
            return check_connection(destination)
        finally:
            destination.close()
