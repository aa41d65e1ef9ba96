"""The small protocol every destination implements, and shared result types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import Order


@dataclass(frozen=True)
class PushResult:
    """A successful push: the platform's id for the order and a short description."""

    remote_id: str | None
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a connection check: ok, what was verified or what is wrong, and a hint."""

    name: str
    ok: bool
    message: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MappingResult:
    """A payload plus a note for the ledger (e.g. which zero-priced items were left out)."""

    payload: dict[str, Any]
    note: str | None = None


class Destination(Protocol):
    """A platform orders are delivered to. Every method raises only ``errors.SyncError``."""

    name: str  # the ledger's destination name
    section: str  # the settings section it is configured in
    supports_update: bool

    def map_order(self, order: Order) -> MappingResult:
        """The platform's payload for an order; raise UnmappableOrder when it cannot be sent."""
        ...

    def push(self, payload: dict[str, Any], *, operation: str, remote_id: str | None) -> PushResult:
        """Create (or update) the order on the platform."""
        ...

    def check_connection(self) -> CheckResult:
        """Prove the credentials work without creating anything."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
