"""Destinations: one module per platform, and the registry that builds the enabled ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_daemon.platforms.base import CheckResult, Destination, MappingResult, PushResult
from sync_daemon.platforms.gotrack import GoTrackDestination
from sync_daemon.platforms.orderrepo import OrderRepoDestination, OrderRepoEventDestination
from sync_daemon.platforms.shopback import ShopBackDestination

if TYPE_CHECKING:
    from sync_daemon.config import Settings

REGISTRY = {
    "gotrack": GoTrackDestination,
    "orderrepo": OrderRepoDestination,
    "shopback": ShopBackDestination,
}

__all__ = ["REGISTRY", "CheckResult", "Destination", "MappingResult", "PushResult", "build_destinations"]


def build_destinations(settings: Settings, names: list[str] | None = None) -> dict[str, Destination]:
    """The enabled destinations (or the named ones), constructed from their settings sections.

    OrderRepo events are destinations of their own (one ledger row per order and event), so
    each is sent once and retried on its own.
    """
    chosen = names if names is not None else settings.enabled_destinations()
    destinations: dict[str, Destination] = {}
    for name in chosen:
        section = getattr(settings, name)
        destinations[name] = REGISTRY[name](section, settings)
        if name == "orderrepo":
            for moment in section.events:
                event = OrderRepoEventDestination(section, settings, moment)
                destinations[event.name] = event
    return destinations
