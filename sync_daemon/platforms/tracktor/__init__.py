"""Tracktor (ShopPad): shipment tracking read back for WooCommerce orders, plus webhooks.

Tracktor is read, never delivered to: it has no destination, one status source
(``tracking.py``). The client (``client.py``, with the choices made where the contract is
silent), the answer parsing (``parse.py``), what a webhook names (``webhook.py``) and the check
(``check.py``) sit beside it; see docs/tracktor.md.
"""

from __future__ import annotations

from typing import ClassVar

from sync_daemon.platforms.base import CheckResult, ConnectionSpec, Field, PlatformBase, StatusSource
from sync_daemon.platforms.tracktor.check import check_connection
from sync_daemon.platforms.tracktor.client import WEBHOOK_TOPICS, TracktorClient, check_webhook_address
from sync_daemon.platforms.tracktor.parse import (
    EXCEPTION_STATUSES,
    SHIPMENT_STATUSES,
    Fulfillment,
    OrderTracking,
    parse_fulfillment,
    parse_order_tracking,
    parse_status_options,
    tracktor_order_id,
)
from sync_daemon.platforms.tracktor.settings import NAME, PLATFORM, TracktorSettings
from sync_daemon.platforms.tracktor.tracking import TracktorTracking, aggregate_shipment
from sync_daemon.platforms.tracktor.webhook import webhook_order_ids

__all__ = [
    "EXCEPTION_STATUSES",
    "SHIPMENT_STATUSES",
    "WEBHOOK_TOPICS",
    "Fulfillment",
    "OrderTracking",
    "Tracktor",
    "TracktorClient",
    "TracktorSettings",
    "TracktorTracking",
    "aggregate_shipment",
    "check_webhook_address",
    "parse_fulfillment",
    "parse_order_tracking",
    "parse_status_options",
    "tracktor_order_id",
    "webhook_order_ids",
]


class Tracktor(PlatformBase):
    """Tracktor: no destination, the shipment tracking as its status source."""

    name = NAME
    title = PLATFORM
    Settings = TracktorSettings
    status_map_default: ClassVar[dict[str, str] | None] = {"delivered": "completed"}
    delivers = False
    connection: ClassVar[ConnectionSpec] = ConnectionSpec(
        title=PLATFORM,
        dashboard="Tracktor → Settings → API",
        fields=(
            Field("base_url", "endpoint", "API base URL", hidden=False, kind="url"),
            Field("uuid", "key", "shop uuid", hidden=False, kind="text"),
            Field("api_key", "secret", "API key"),
        ),
    )

    def build_status_sources(self) -> list[StatusSource]:
        """The tracking of orders in transit."""
        return [TracktorTracking(self.settings)]

    def check(self) -> CheckResult:
        """Reading the status options proves key and uuid without changing anything."""
        with TracktorClient(self.settings) as client:
            return check_connection(client)
