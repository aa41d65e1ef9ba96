"""GoTrack.bd: orders pushed with ``POST /api/v1/orders`` (HTTP Basic auth), idempotent by external_order_id.

The mapping rules are in ``mapping.py``, the answers in ``client.py``, the connection check in
``check.py``. GoTrack has no update endpoint: an order edited after delivery is noted, not sent.
"""

from __future__ import annotations

from typing import ClassVar

from sync_daemon.platforms.base import CheckResult, ConnectionSpec, Destination, Field, PlatformBase
from sync_daemon.platforms.gotrack.check import check_connection, endpoint_findings
from sync_daemon.platforms.gotrack.client import GoTrackDestination
from sync_daemon.platforms.gotrack.mapping import map_order
from sync_daemon.platforms.gotrack.settings import NAME, PLATFORM, GoTrackSettings

__all__ = ["GoTrack", "GoTrackDestination", "GoTrackSettings", "map_order"]


class GoTrack(PlatformBase):
    """GoTrack.bd: one destination, no statuses read back."""

    name = NAME
    title = PLATFORM
    Settings = GoTrackSettings
    connection: ClassVar[ConnectionSpec] = ConnectionSpec(
        title=PLATFORM,
        dashboard="GoTrack → Settings → API",
        fields=(
            Field("endpoint", "endpoint", "Endpoint URL", hidden=False, kind="url"),
            # The API key is a public identifier (the contract says so); the secret is a password.
            Field("api_key", "key", "API key", hidden=False, prefix="fbc_"),
            Field("api_secret", "secret", "API secret"),
        ),
        preflight=endpoint_findings,
    )

    def build_destinations(self) -> list[Destination]:
        """The one order lane."""
        return [GoTrackDestination(self.settings)]

    def check(self) -> CheckResult:
        """A request GoTrack must refuse after authentication (see ``check.py``)."""
        destination = GoTrackDestination(self.settings)
        try:
            return check_connection(destination)
        finally:
            destination.close()
