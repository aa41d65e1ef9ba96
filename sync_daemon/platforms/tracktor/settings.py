"""Tracktor's settings section (``[tracktor]``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.settings import SECRET_SHAPE, PlatformSettings
from sync_daemon.core.urls import HttpsBaseUrl

NAME = "tracktor"
PLATFORM = "Tracktor"


class TracktorSettings(PlatformSettings):
    """Tracktor (ShopPad): shipment tracking read back into WooCommerce (``x-api-key`` + shop uuid)."""

    base_url: HttpsBaseUrl = "https://www.theshoppad.com/apps/tracktor/api/admin"
    uuid: str = ""
    api_key: SecretStr = SecretStr("")
    # Where the Tracktor order id of a WooCommerce order comes from: an order meta key, or the
    # WooCommerce order id itself. Orders without one are not tracked.
    order_id_source: Literal["meta", "order_id"] = "meta"
    order_id_meta_key: str = "_tracktor_order_id"
    poll_interval_seconds: float = Field(default=600, ge=1)
    # With a Tracktor webhook pointing at the listener ([server] tracktor_secret), each webhook triggers a
    # tracking read at once and the schedule drops to this slow backstop.
    webhooks_active: bool = False
    webhook_backstop_interval_seconds: float = Field(default=21600, ge=1)
    # Stop asking about an order this many days after it was first seen (delivered ones stop at once).
    track_days: float = Field(default=30, gt=0)
    timeout_seconds: float = Field(default=15, gt=0, le=300)

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return value.strip()

    @field_validator("order_id_meta_key")
    @classmethod
    def _meta_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the order meta key that holds the Tracktor order id")
        return value.strip()

    def format_problems(self) -> list[str]:
        """Missing or malformed uuid and key, whether or not the section is enabled."""
        found = []
        if not self.uuid:
            found.append("tracktor.uuid: required (your shop's Tracktor uuid, letters, digits and dashes)")
        elif not re.fullmatch(r"[A-Za-z0-9-]{1,64}", self.uuid):
            found.append(f"tracktor.uuid: {self.uuid[:70]!r} is not a Tracktor uuid (letters, digits and dashes)")
        key = self.api_key.get_secret_value()
        if not key:
            found.append("tracktor.api_key: required when tracktor is enabled (Tracktor → Settings → API)")
        elif not SECRET_SHAPE.fullmatch(key):
            # Never the value: a stray space or a non-ASCII character is enough to point at the paste.
            found.append(f"tracktor.api_key: must be printable ASCII without spaces (it has {len(key)} characters)")
        return found

    def problems(self) -> list[str]:
        """Missing or malformed uuid and key, when enabled."""
        return self.format_problems() if self.enabled else []
