"""The ``[server]`` section: the daemon's small HTTP listener (webhooks as hints, /healthz, /metrics)."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from sync_daemon.core.settings import Section
from sync_daemon.core.urls import check_url

_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8787`` for IPv6) as (host, port); raises ValueError when malformed."""
    match = _LISTEN.match(value.strip())
    if not match or not 0 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:8787)")
    return match["host"].strip("[]"), int(match["port"])


class ServerSettings(Section):
    """The listener: off unless enabled; loopback by default (see docs/webhooks.md before exposing it)."""

    enabled: bool = False
    listen: str = "127.0.0.1:8787"
    # HMAC key of the WooCommerce webhooks (``sync-daemon webhooks install`` generates and stores one).
    woocommerce_secret: SecretStr = SecretStr("")
    # Tracktor signs nothing: its webhook URL carries this token (path or ?token=); empty = endpoint off.
    tracktor_secret: SecretStr = SecretStr("")
    # Where WooCommerce reaches the listener (e.g. https://shop.example.com/sync-daemon); for `webhooks install`.
    public_url: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=16 * 1_048_576)
    threads: int = Field(default=4, ge=1, le=32)
    # Every this many polls the daemon reads its WooCommerce webhooks and re-activates a disabled one (0: never).
    webhook_check_every_polls: int = Field(default=10, ge=0)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_listen(value)
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return check_url(value, require_https=False).rstrip("/") if value.strip() else ""

    def address(self) -> tuple[str, int]:
        """(host, port) to bind."""
        return split_listen(self.listen)

    def problems(self) -> list[str]:
        """Nothing is required: without a secret the webhook endpoints answer 401/404 to every delivery."""
        return []

    def warnings(self) -> list[str]:
        """What works but is risky: a listener bound to every address (docs/webhooks.md)."""
        host, port = self.address()
        if not self.enabled or host not in ("0.0.0.0", "::", ""):
            return []
        return [
            f"server.listen = {self.listen!r} answers on every network address: webhook bodies carry customers' "
            f"names and addresses, so put a reverse proxy with TLS in front and listen on 127.0.0.1:{port} "
            "(see docs/webhooks.md)"
        ]
