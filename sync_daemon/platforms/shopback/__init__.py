"""ShopBack: a conversion postback (``GET …/aff_lsr``) for each order that came from a ShopBack click.

``fields.py`` holds the ``extra_fields`` grammar, ``mapping.py`` the query rules, ``answer.py``
the reading of the text answers, ``client.py`` the postback and ``check.py`` the connection check.
"""

from __future__ import annotations

from typing import ClassVar

from sync_daemon.platforms.base import CheckResult, ConnectionSpec, Destination, Field, PlatformBase
from sync_daemon.platforms.shopback.answer import parse_answer
from sync_daemon.platforms.shopback.check import check_connection
from sync_daemon.platforms.shopback.client import ShopBackDestination
from sync_daemon.platforms.shopback.fields import check_extra_fields, parse_field_spec
from sync_daemon.platforms.shopback.mapping import format_amount, map_order, query_string, transaction_id_of
from sync_daemon.platforms.shopback.settings import NAME, PLATFORM, ShopBackSettings

__all__ = [
    "ShopBack",
    "ShopBackDestination",
    "ShopBackSettings",
    "check_extra_fields",
    "format_amount",
    "map_order",
    "parse_answer",
    "parse_field_spec",
    "query_string",
    "transaction_id_of",
]


class ShopBack(PlatformBase):
    """ShopBack: one postback lane, no statuses read back."""

    name = NAME
    title = PLATFORM
    Settings = ShopBackSettings
    connection: ClassVar[ConnectionSpec] = ConnectionSpec(
        title=PLATFORM,
        dashboard="your ShopBack representative's e-mail",
        fields=(
            Field("endpoint", "endpoint", "postback URL", hidden=False, kind="url"),
            Field("offer_id", "key", "offer id", hidden=False, kind="text"),
            Field("security_token", "secret", "security token"),
        ),
    )

    def build_destinations(self) -> list[Destination]:
        """The one postback lane."""
        return [ShopBackDestination(self.settings)]

    def check(self) -> CheckResult:
        """The settings' shape, then a bare GET that cannot record anything."""
        destination = ShopBackDestination(self.settings)
        try:
            return check_connection(destination)
        finally:
            destination.close()
