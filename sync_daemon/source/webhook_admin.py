"""The daemon's own WooCommerce webhooks (``/wc/v3/webhooks``): install, list, remove, re-activate.

Ours are recognised by name (``sync-daemon order.created`` …), so a merchant's other webhooks are
never touched. WooCommerce disables a webhook after 5 failed deliveries in a row; the daemon
checks every few polls and sets a disabled one active again (polling and the reconcile sweep
cover what was missed meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_daemon.core import http
from sync_daemon.core.errors import RetryableError
from sync_daemon.core.redaction import safe_url
from sync_daemon.source.webhooks import WEBHOOK_TOPICS
from sync_daemon.source.woocommerce import WooCommerceSource

NAME_PREFIX = "sync-daemon "
WOOCOMMERCE_PATH = "/webhooks/woocommerce"


@dataclass(frozen=True)
class WebhookState:
    """One of our webhooks as WooCommerce reports it (no secret)."""

    id: int
    topic: str
    status: str
    delivery_url: str
    failure_count: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data for --json (the URL without query or user-info)."""
        return {"id": self.id, "topic": self.topic, "status": self.status,
                "delivery_url": safe_url(self.delivery_url), "failure_count": self.failure_count}


def delivery_url(public_url: str) -> str:
    """Where WooCommerce posts: the listener's public address plus the WooCommerce path."""
    return public_url.rstrip("/") + WOOCOMMERCE_PATH


def ours(shop: WooCommerceSource) -> list[WebhookState]:
    """The daemon's webhooks in the shop."""
    body = http.json_body(shop._request("get", "webhooks", params={"per_page": 100}))  # noqa: SLF001
    if not isinstance(body, list):
        raise RetryableError("WooCommerce: the webhooks list is not a JSON list")
    found = []
    for hook in body:
        if isinstance(hook, dict) and str(hook.get("name", "")).startswith(NAME_PREFIX):
            found.append(WebhookState(int(hook["id"]), str(hook.get("topic", "")), str(hook.get("status", "")),
                                      str(hook.get("delivery_url", "")), int(hook.get("failure_count") or 0)))
    return found


def install(shop: WooCommerceSource, public_url: str, secret: str) -> list[WebhookState]:
    """Create (or bring up to date and activate) order.created and order.updated pointing at the listener."""
    target = delivery_url(public_url)
    existing = {hook.topic: hook for hook in ours(shop)}
    for topic in WEBHOOK_TOPICS:
        data = {"name": NAME_PREFIX + topic, "topic": topic, "delivery_url": target, "secret": secret,
                "status": "active"}
        if topic in existing:
            shop._request("put", f"webhooks/{existing[topic].id}", data=data)  # noqa: SLF001
        else:
            # WooCommerce saves it (201) and pings the URL afterwards, whatever the ping's answer:
            # `webhooks install` asks the listener itself before coming here.
            shop._request("post", "webhooks", data=data)  # noqa: SLF001
    return ours(shop)


def remove(shop: WooCommerceSource) -> list[int]:
    """Delete the daemon's webhooks; returns their ids."""
    removed = []
    for hook in ours(shop):
        shop._request("delete", f"webhooks/{hook.id}", params={"force": "true"})  # noqa: SLF001
        removed.append(hook.id)
    return removed


def reactivate(shop: WooCommerceSource) -> list[WebhookState]:
    """Set active again every webhook of ours that WooCommerce disabled or paused; returns them."""
    revived = []
    for hook in ours(shop):
        if hook.status in ("disabled", "paused"):
            shop._request("put", f"webhooks/{hook.id}", data={"status": "active"})  # noqa: SLF001
            revived.append(hook)
    return revived
