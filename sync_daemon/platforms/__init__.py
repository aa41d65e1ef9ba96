"""The platforms, one package each, and the registry every layer above iterates over.

A fifth platform is one new package beside these (settings, mapping, client, check and, when it
reads statuses back, a status source), one line here, its simulator and its tests.
"""

from __future__ import annotations

from sync_daemon.platforms.base import (
    CheckResult,
    ConnectionSpec,
    Destination,
    Field,
    MappingResult,
    Platform,
    PlatformBase,
    PushResult,
    ShopContext,
    StatusSource,
)
from sync_daemon.platforms.gotrack import GoTrack
from sync_daemon.platforms.orderrepo import OrderRepo
from sync_daemon.platforms.shopback import ShopBack
from sync_daemon.platforms.tracktor import Tracktor

# Settings section → platform, in the order they are listed, checked and delivered to.
REGISTRY: dict[str, type[Platform]] = {platform.name: platform for platform in (GoTrack, OrderRepo, ShopBack, Tracktor)}

__all__ = [
    "REGISTRY",
    "CheckResult",
    "ConnectionSpec",
    "Destination",
    "Field",
    "MappingResult",
    "Platform",
    "PlatformBase",
    "PushResult",
    "ShopContext",
    "StatusSource",
]
