"""What every platform is behind: one protocol, the shared result types, the shop context.

A platform is one package under ``platforms/`` holding its settings model (its config section),
its pure mapping, its client, its connection check and, when it reads statuses back, its status
source. The registry (``platforms/__init__.py``) lists the packages; nothing above this layer
names a platform.

Capabilities are declared, never probed with ``getattr``: a platform returns the destinations it
delivers to (none for Tracktor, orders plus one per event for OrderRepo) and the status sources it
reads (none for GoTrack and ShopBack).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from sync_daemon.core.connection import CheckResult, ConnectionSpec, Field
from sync_daemon.core.order import Order
from sync_daemon.core.outcome import Operation
from sync_daemon.core.settings import PlatformSettings

# The check's result and the connection's description are shared with the shop (core/connection.py).
__all__ = [
    "CheckResult",
    "ConnectionSpec",
    "Destination",
    "Field",
    "MappingResult",
    "Operation",
    "Platform",
    "PlatformBase",
    "PushResult",
    "ShopContext",
    "StatusSource",
    "StatusStore",
]



@dataclass(frozen=True)
class PushResult:
    """A successful push: the platform's id for the order and a short description."""

    remote_id: str | None
    detail: str = ""


@dataclass(frozen=True)
class MappingResult:
    """A payload plus a note for the ledger (e.g. which zero-priced items were left out)."""

    payload: dict[str, Any]
    note: str | None = None


def _no_image(product_id: int) -> str | None:
    return None


@dataclass(frozen=True)
class ShopContext:
    """What a platform may know of the shop, instead of the whole configuration."""

    url: str = ""  # the shop's address (woocommerce.url)
    origin: str = ""  # scheme://host[:port] of that address
    # The product's first image URL (cached by the caller; None when it has none).
    product_image: Callable[[int], str | None] = _no_image


class Destination(Protocol):
    """One ledger lane orders are delivered to. Every method raises only ``core.errors.SyncError``."""

    name: str  # the ledger's destination name ("gotrack", "orderrepo-event-created")
    section: str  # the settings section (platform) it belongs to
    supports_update: bool
    concurrency: int  # requests in flight at once

    def map_order(self, order: Order) -> MappingResult:
        """The platform's payload for an order; raise UnmappableOrder or NotApplicable when it cannot be sent."""
        ...

    def push(self, payload: Mapping[str, Any], *, operation: str, remote_id: str | None) -> PushResult:
        """Create (or update) the order on the platform."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class StatusStore(Protocol):
    """The part of the ledger a status source writes to (the ledger implements it)."""

    def update_remote_statuses(
        self, destination: str, rows: Sequence[tuple[int, str, str | None]], *, now: float
    ) -> int: ...

    def tracking_due(self, *, now: float, max_age_seconds: float, limit: int = 1000) -> list[tuple[int, str]]: ...

    def tracking_named(
        self, tracking_ids: Sequence[str], *, now: float, max_age_seconds: float
    ) -> list[tuple[int, str]]: ...

    def record_tracking(
        self,
        order_id: int,
        *,
        shipment_status: str | None,
        exception_status: str | None,
        carrier: str | None,
        tracking_number: str | None,
        done: bool,
        now: float,
    ) -> bool: ...


class StatusSource(Protocol):
    """Statuses a platform learns after the order left the shop, read into the ledger for write-back.

    ``kind`` says where the ledger keeps them: ``"delivery"`` on the platform's own delivery rows
    (OrderRepo), ``"tracking"`` in the tracking table, keyed by a tracking id taken from the order
    at ingest (Tracktor).
    """

    name: str  # the write-back source label, and the ledger's destination name for "delivery"
    title: str  # in order notes: "OrderRepo"
    kind: Literal["delivery", "tracking"]
    interval_seconds: float  # the runner schedules one job per source
    quiet_statuses: frozenset[str]  # remote statuses not worth a note (every order starts there)

    def pull(
        self,
        store: StatusStore,
        *,
        now: float,
        stop: threading.Event,
        progress: Callable[[], None],
        only: Sequence[str] | None = None,
    ) -> int:
        """Read what changed into the store; returns how many statuses changed.

        ``only``: just the orders with these tracking ids (the platform said they changed); a source
        that cannot read single orders reads everything.
        """
        ...

    def fetch_one(self, order_id: int) -> tuple[str, str | None] | None:
        """(status, changed at) of one order now (after a resync), or None."""
        ...

    def tracking_id(self, order: Order) -> str | None:
        """The id this source tracks an order by (``kind == "tracking"``), or None when not tracked."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Platform(Protocol):
    """One platform: a settings section, its connection, what it delivers to and what it reads back."""

    name: ClassVar[str]  # the settings section
    title: ClassVar[str]
    Settings: ClassVar[type[PlatformSettings]]
    connection: ClassVar[ConnectionSpec]
    delivers: ClassVar[bool]  # has destinations (False for a platform that is only read)
    # Remote status → WooCommerce status, the default of ``writeback.<name>_status_map``; None when
    # the platform reads no statuses back.
    status_map_default: ClassVar[dict[str, str] | None]

    def __init__(self, settings: Any, shop: ShopContext) -> None: ...

    def destinations(self) -> Sequence[Destination]:
        """The delivery lanes, built once (empty when the platform is read only)."""
        ...

    def status_sources(self) -> Sequence[StatusSource]:
        """The status readers, built once (empty when the platform reads nothing back)."""
        ...

    def check(self) -> CheckResult:
        """Prove the connection works without creating anything."""
        ...

    def close(self) -> None:
        """Release every connection the platform opened."""
        ...


class PlatformBase:
    """Defaults for a platform: nothing delivered, nothing read back; closes what it built."""

    name: ClassVar[str]
    title: ClassVar[str]
    Settings: ClassVar[type[PlatformSettings]]
    connection: ClassVar[ConnectionSpec]
    status_map_default: ClassVar[dict[str, str] | None] = None
    delivers: ClassVar[bool] = True

    def __init__(self, settings: Any, shop: ShopContext | None = None) -> None:
        self.settings = settings
        self.shop = shop or ShopContext()
        self._opened: list[Any] = []
        self._destinations: list[Destination] | None = None
        self._sources: list[StatusSource] | None = None

    def opened(self, thing: Any) -> Any:
        """Remember something with a ``close`` (a destination, a client) so ``close`` releases it."""
        self._opened.append(thing)
        return thing

    def destinations(self) -> Sequence[Destination]:
        """The delivery lanes, built on first use and closed with the platform."""
        if self._destinations is None:
            self._destinations = [self.opened(lane) for lane in self.build_destinations()]
        return self._destinations

    def status_sources(self) -> Sequence[StatusSource]:
        """The status readers, built on first use and closed with the platform."""
        if self._sources is None:
            self._sources = [self.opened(source) for source in self.build_status_sources()]
        return self._sources

    def build_destinations(self) -> list[Destination]:
        """None by default: a read-only platform."""
        return []

    def build_status_sources(self) -> list[StatusSource]:
        """None by default: nothing is read back."""
        return []

    def check(self) -> CheckResult:
        """Subclasses prove their connection."""
        raise NotImplementedError

    def close(self) -> None:
        """Close everything opened, once."""
        opened, self._opened = self._opened, []
        for thing in opened:
            thing.close()
