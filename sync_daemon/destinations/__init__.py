"""Destinations: one module per platform, and the registry that builds the enabled ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import CheckResult, Destination, MappingResult, PushResult
from .gotrack import GoTrackDestination

if TYPE_CHECKING:
    from ..config import Settings

REGISTRY = {
    "gotrack": GoTrackDestination,
}

__all__ = ["REGISTRY", "CheckResult", "Destination", "MappingResult", "PushResult", "build_destinations"]


def build_destinations(settings: Settings, names: list[str] | None = None) -> dict[str, Destination]:
    """The enabled destinations (or the named ones), constructed from their settings sections."""
    chosen = names if names is not None else settings.enabled_destinations()
    return {name: REGISTRY[name](getattr(settings, name), settings) for name in chosen}
