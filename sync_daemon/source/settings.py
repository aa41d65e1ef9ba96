"""The shop's settings section (``[woocommerce]``): where orders come from and where statuses go back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.settings import CaBundle, Section
from sync_daemon.core.urls import check_url

# Paths that lead into WordPress (its REST API, dashboard, login) rather than being its address.
WORDPRESS_PATHS = ("/wp-json", "/wp-admin", "/wp-login.php", "/index.php")


def wordpress_address(url: str) -> tuple[str, str] | None:
    """(what the URL points at, the WordPress address it belongs to), or None for a plain site address.

    Catches the addresses a merchant copies by mistake: the dashboard (``/wp-admin/…``), the REST
    API itself (``/wp-json``), one page or post (``?page_id=12``). A query's values are never
    shown: a pasted URL may carry a key in it.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    root = f"{parts.scheme}://{parts.netloc}"
    for marker in WORDPRESS_PATHS:
        if marker in parts.path:
            return f"points into WordPress ({marker}…)", root + parts.path.split(marker, 1)[0].rstrip("/")
    if parts.query:
        names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)] or [parts.query[:20]]
        return f"is the address of one page (?{names[0]}=…)", root + parts.path.rstrip("/")
    if parts.fragment:
        return "carries a #fragment", root + parts.path.rstrip("/")
    return None


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
    # Re-read every synced, still open order by id this often: catches edits that keep date_modified (0: off).
    reconcile_interval_seconds: float = Field(default=3600, ge=0)
    reconcile_days: float = Field(default=30, gt=0)  # how far back an open order is still re-read

    # A PEM file of the authority that signed the shop's certificate (a private or self-signed
    # CA), trusted instead of the system's authorities; empty: the system's.
    ca_bundle: CaBundle = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.strip():
            return ""
        parts = urlsplit(value.strip())
        pointer = wordpress_address(value) if parts.query or parts.fragment else None
        if pointer is not None:
            what, site = pointer
            raise ValueError(f"{what}, not the WordPress address: set woocommerce.url to {site}")
        return check_url(value, require_https=False).rstrip("/")

    def tls_verify(self) -> bool | str:
        """What every request's ``verify`` gets: the CA bundle when one is set, else whether to check at all."""
        return self.ca_bundle if self.verify_tls and self.ca_bundle else self.verify_tls

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
        if self.ca_bundle and not self.verify_tls:
            found.append(
                "woocommerce.verify_tls: false turns certificate checks off, so ca_bundle would not be used — "
                "remove verify_tls = false (the bundle is what makes the certificate trusted)"
            )
        return found
