"""What a Tracktor webhook names: the orders to read again through the API, never their tracking.

The contract lists the webhook topics but not the body Tracktor posts, so the reading is liberal:
a JSON object (or list) with the order's id under ``order_id``, an ``order`` object (``id`` or
``order_id``), a ``fulfillment`` object (its ``order_id``: a fulfillment's own ``id`` names a
fulfillment, not an order), lists of either under ``orders`` / ``fulfillments``, any of these inside a
``data`` or ``payload`` envelope, or a bare object's ``id``. Ids are taken as
``tracktor_order_id`` takes them (an integer as its digits, a plain string; ``#1001``, floats,
booleans and anything else are ignored).

Nothing else in the body is believed: a status in it is not read at all. The token in the
webhook's path is the only proof that Tracktor sent it, so the body only decides which orders are
read again, through the API, sooner than the schedule would.
"""

from __future__ import annotations

import json
from typing import Any

from sync_daemon.platforms.tracktor.parse import PLAIN_ID, text_of

MAX_IDS = 100  # a body naming more is not a status change of one order; the rest wait for the schedule
_MAX_DEPTH = 4  # envelope → order → fulfillments → fulfillment
_ENVELOPES = ("data", "payload")
# An object with one of these keys is a fulfillment: its ``id`` is the fulfillment's, not the order's.
_FULFILLMENT_KEYS = frozenset({"fulfillment_id", "shipment_status", "tracking_number", "fulfillment_status"})
# An object holding one of these is an envelope (an order's own ``fulfillments`` do not make it one).
_WRAPPERS = frozenset({"order", "orders", "fulfillment", *_ENVELOPES})


def webhook_order_ids(body: bytes | str) -> tuple[str, ...] | None:
    """The Tracktor order ids a webhook body names, in body order; None when it names none."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        return None
    found: dict[str, None] = {}  # ordered and without repeats
    _collect(data, _kind_of(data), 0, found)
    return tuple(found) or None


def _kind_of(data: Any) -> str | None:
    """"order" or "fulfillment" from a ``topic`` such as ``fulfillment/delivered``, else None."""
    topic = data.get("topic") if isinstance(data, dict) else None
    if isinstance(topic, str):
        head = topic.strip().split("/", 1)[0].lower()
        if head in ("order", "fulfillment"):
            return head
    return None


def _add(found: dict[str, None], value: Any) -> None:
    if isinstance(value, bool | float) or len(found) >= MAX_IDS:  # no True, no 5012345678.0
        return
    text = text_of(value)
    if text is not None and PLAIN_ID.fullmatch(text):
        found[text] = None


def _collect(value: Any, kind: str | None, depth: int, found: dict[str, None]) -> None:
    if depth > _MAX_DEPTH or len(found) >= MAX_IDS:
        return
    if isinstance(value, list):
        for item in value[:MAX_IDS]:
            _collect(item, kind, depth + 1, found)
        return
    if not isinstance(value, dict):
        return
    kind = _kind_of(value) or kind
    _add(found, value.get("order_id"))
    # A bare ``id`` is the order's only on an order itself: an envelope's id is the event's or the
    # webhook's, a fulfillment's id is the fulfillment's.
    wraps = any(isinstance(value.get(key), dict | list) for key in _WRAPPERS)
    if kind != "fulfillment" and not wraps and not _FULFILLMENT_KEYS & value.keys():
        _add(found, value.get("id"))
    for key in ("order", "orders"):
        child = value.get(key)
        if isinstance(child, dict | list):
            _collect(child, "order", depth + 1, found)
        else:
            _add(found, child)  # "order": 5012345678
    for key in ("fulfillment", "fulfillments"):
        if isinstance(value.get(key), dict | list):
            _collect(value[key], "fulfillment", depth + 1, found)
    for key in _ENVELOPES:
        if isinstance(value.get(key), dict | list):
            _collect(value[key], kind, depth + 1, found)
