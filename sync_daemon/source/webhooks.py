"""WooCommerce webhook deliveries, read as hints: "look at order N now", never as data.

A delivery is trusted only after its ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the raw
body with the webhook's secret) matches, compared in constant time. Even then only the order id
is taken from it: the daemon reads the order through the REST API as always, so a forged or
replayed body can at worst cause one extra read. WooCommerce's creation ping (a form-encoded
``webhook_id=N`` POST without any ``X-WC-Webhook-*`` header or signature) is answered 200: WooCommerce
saves the webhook whatever the answer, but shows the failure to the merchant in wp-admin.

``X-WC-Webhook-Delivery-ID`` is not one per delivery: WooCommerce hashes the webhook's id with the
current second, so every delivery of one webhook within a second shares it (a batch edit of four
orders is four deliveries with one id). A replay is told by the id *and* the signature together
(``replay_key``, with the topic): a true replay repeats the body, so its signature; distinct
deliveries do not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

# Topics whose body is an order (or, for order.deleted, {"id": N}).
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.deleted", "order.restored"})
WEBHOOK_TOPICS = ("order.created", "order.updated")  # what `webhooks install` creates

Verdict = Literal["hint", "ping", "ignored", "bad_signature", "bad_body", "no_secret"]


@dataclass(frozen=True)
class Delivery:
    """What a WooCommerce delivery amounts to: a verdict, and the order id when it is a hint."""

    verdict: Verdict
    order_id: int | None = None
    topic: str = ""
    delivery_id: str = ""
    detail: str = ""
    replay_key: str = ""  # the same for a replayed delivery only (delivery id, topic, signature)


def signature(body: bytes, secret: str) -> str:
    """WooCommerce's signature of a body: base64 of HMAC-SHA256 with the webhook secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(body: bytes, secret: str, given: str) -> bool:
    """True when ``given`` is the body's signature (constant-time compare)."""
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(body, secret).encode(), given.strip().encode())


def replay_key(delivery_id: str, topic: str, given_signature: str) -> str:
    """What a replay repeats and two deliveries in one second do not: a digest of id, topic and signature."""
    return hashlib.sha256(f"{delivery_id}\n{topic}\n{given_signature.strip()}".encode()).hexdigest()[:32]


def _is_ping(body: bytes, headers: dict[str, str]) -> bool:
    if any(name.startswith("x-wc-webhook-") for name in headers):
        return False
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return set(fields) == {"webhook_id"} and fields["webhook_id"].isdigit()


def read_delivery(body: bytes, headers: dict[str, str], secret: str) -> Delivery:
    """Classify one delivery (``headers`` with lower-case names); never raises."""
    if _is_ping(body, headers):
        return Delivery("ping", detail="webhook creation ping")
    topic = headers.get("x-wc-webhook-topic", "").strip().lower()
    delivery_id = headers.get("x-wc-webhook-delivery-id", "").strip()[:64]
    if not secret:
        return Delivery("no_secret", topic=topic, detail="server.woocommerce_secret is not set")
    given = headers.get("x-wc-webhook-signature", "")
    if not signature_matches(body, secret, given):
        return Delivery("bad_signature", topic=topic, detail="signature does not match")
    if topic not in ORDER_TOPICS or headers.get("x-wc-webhook-resource", "order").lower() != "order":
        return Delivery("ignored", topic=topic, delivery_id=delivery_id, detail="topic not about orders")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Delivery("bad_body", topic=topic, delivery_id=delivery_id, detail="body is not JSON")
    order_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        return Delivery("bad_body", topic=topic, delivery_id=delivery_id, detail="no order id in the body")
    return Delivery("hint", order_id=order_id, topic=topic, delivery_id=delivery_id,
                    replay_key=replay_key(delivery_id, topic, given))
