"""The shop's settings section (``[woocommerce]``): where orders come from and where statuses go back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.settings import Section
from sync_daemon.core.urls import check_url


class WooCommerceSettings(Section):
    """The shop: where orders come from and where statuses go back."""

    url: str = ""
    consumer_key: SecretStr = SecretStr("")
    consumer_secret: SecretStr = SecretStr("")
    statuses: list[str] = Field(default_factory=lambda: ["processing", "on-hold"], min_length=1)
    sync_from: datetime | None = None
    initial_window_days: float = Field(default=7, ge=0)
    overlap_seconds: int = Field(default=120, ge=1)
    per_page: int = Field(default=100, ge=1, le=100)
    timeout_seconds: float = Field(default=20, gt=0, le=300)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value, require_https=False).rstrip("/") if value.strip() else ""

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        cleaned = [status.strip().removeprefix("wc-") for status in value]
        for status in cleaned:
            if not re.fullmatch(r"[a-z0-9_-]+", status):
                raise ValueError(f"{status!r} is not a WooCommerce order status slug")
        return cleaned

    def start_point(self, now: datetime) -> datetime:
        """Where the first run starts reading: ``sync_from`` or now minus the window."""
        if self.sync_from is not None:
            return self.sync_from if self.sync_from.tzinfo else self.sync_from.replace(tzinfo=UTC)
        return now - timedelta(days=self.initial_window_days)

    def problems(self) -> list[str]:
        """What is missing for the daemon to reach the shop."""
        found = []
        if not self.url:
            found.append("woocommerce.url: required (your shop's address, e.g. https://shop.example.com)")
        if not self.consumer_key.get_secret_value():
            found.append("woocommerce.consumer_key: required (WooCommerce → Settings → Advanced → REST API)")
        if not self.consumer_secret.get_secret_value():
            found.append("woocommerce.consumer_secret: required")
        return found
