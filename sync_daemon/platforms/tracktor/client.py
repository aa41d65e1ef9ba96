"""Tracktor's client: tracking, status options, manual status and webhooks (``x-api-key``).

Every request goes to ``{base_url}/{uuid}/<resource>.json`` with ``x-api-key`` and
``Content-Type: application/json``. Tracktor is read, never written to by the delivery engine;
``update_order_status`` and the webhook calls exist for the CLI and for merchants who drive
Tracktor by hand.

Which Tracktor order belongs to a WooCommerce order (``tracktor_order_id``): the order meta
``order_id_meta_key`` (default ``_tracktor_order_id``), or with ``order_id_source = "order_id"``
the WooCommerce order id itself. The value is stripped; an integer is taken as its digits; blank,
missing, or anything that is not a plain id (letters, digits, ``-`` and ``_``, at most 64
characters: no ``#1001`` order names, no slashes, no floats, no lists) means "not tracked" (None),
never an error — it would otherwise end up in a URL path.

Choices where the contract is silent (the simulator in ``simulators/tracktor.py`` does the same):

- Response envelopes are Shopify-style: ``{"order": {...}}``, ``{"fulfillment": {...}}``,
  ``{"webhooks": [...]}``, ``{"webhook": {...}}``, ``{"status_options": [...]}``. The client also
  accepts the bare object (or bare list), so either shape parses.
- Status options are objects ``{"slug", "name", "is_custom"}``; plain strings are accepted too and
  become ``{"slug": s, "name": s}``. ``status_options()`` returns them with at least ``slug`` and
  ``name``; entries without a slug are dropped.
- The manual-status body is ``{"status": "<slug>"}``; Tracktor validates the slug against the
  shop's status options (422 when it is not one) and answers ``{"order": {...}}``.
- The webhook body is ``{"webhook": {"topic": ..., "address": ...}}``. The topic must be one of the
  ten documented ones and the address an absolute ``https://`` URL: both are checked here, before
  any request (``ConfigurationError``). Webhook ids are numeric; an id that is not is refused
  before the request (``PermanentError``).
- Errors are ``{"error": "<message>"}``, validation errors may add ``"errors": {field: [msg]}``;
  both are quoted (redacted, shortened) in exception messages.
- Parsing is defensive: a missing field is None (or empty), an unexpected type is ignored, ids
  (integers in Tracktor) are strings here; when ``statuses`` is absent, it is derived from the
  fulfillments (one per fulfillment, as the contract defines it). A 2xx body that is not JSON (an
  HTML page from a proxy) or not an object is a ``RetryableError``.

Answers: 401/403 → ``AuthError`` (check ``tracktor.api_key`` / ``tracktor.uuid``); 404 on an order
or a fulfillment → None (Tracktor does not know it yet), except when Tracktor's JSON error names
the shop or uuid (``{"error": "Shop not found"}``: a wrong uuid), which is a ``ConfigurationError``; 404
on deleting a webhook → ``PermanentError`` (no such webhook); any other 404 → ``ConfigurationError``
("is tracktor.uuid right?"); 400/422 → ``PermanentError`` with Tracktor's message; 429 →
``RateLimitedError``; 5xx, timeouts, resets → ``RetryableError`` (via ``http.raise_for_status``).
The API key never appears in a message: it is registered with the redactor and only sent as a header.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sync_daemon.core import http, redaction
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError

if TYPE_CHECKING:
    import requests

from sync_daemon.platforms.tracktor.parse import (
    PLAIN_ID,
    Fulfillment,
    OrderTracking,
    parse_fulfillment,
    parse_order_tracking,
    parse_status_options,
    text_of,
    unwrap,
)
from sync_daemon.platforms.tracktor.settings import PLATFORM, TracktorSettings

WEBHOOK_TOPICS = (
    "order/all",
    "order/pre_transit",
    "order/in_transit",
    "order/out_for_delivery",
    "order/delivered",
    "fulfillment/all",
    "fulfillment/pre_transit",
    "fulfillment/in_transit",
    "fulfillment/out_for_delivery",
    "fulfillment/delivered",
)


_WEBHOOK_ID = re.compile(r"[0-9]{1,20}")


_SHOP_NAMED = re.compile(r"(?i)\b(shop|store|uuid)\b")


_AUTH_HINT = "check tracktor.api_key (sent as x-api-key) and tracktor.uuid"



def _message(response: requests.Response) -> str:
    """Tracktor's error message ({"error": ..., "errors": {...}}), or the start of the body."""
    body = http.json_body(response)
    if isinstance(body, dict):
        message = text_of(body.get("error")) or text_of(body.get("message")) or ""
        errors = body.get("errors")
        details = ""
        if isinstance(errors, dict) and errors:
            details = "; ".join(
                f"{field}: {' '.join(map(str, problems)) if isinstance(problems, list) else problems}"
                for field, problems in errors.items()
            )
        elif isinstance(errors, list) and errors:
            details = "; ".join(map(str, errors))
        elif isinstance(errors, str):
            details = errors
        text = f"{message} ({details})" if message and details else message or details
        if text:
            return redaction.redact(" ".join(text.split()))[:300]
    return http.body_excerpt(response) or response.reason or ""



def _unknown_shop(response: requests.Response) -> bool:
    """A JSON 404 that names the shop or uuid (a wrong uuid) rather than the order, fulfillment or webhook.

    Only Tracktor's own JSON errors count: an HTML "page not found" (which may well say "ShopPad")
    is an unknown order, not a wrong uuid.
    """
    if not isinstance(http.json_body(response), dict):
        return False
    return bool(_SHOP_NAMED.search(_message(response)))



def check_webhook_address(url: str) -> str:
    """The stripped webhook address; ConfigurationError unless it is an absolute https:// URL."""
    value = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        shown = redaction.safe_url(value) if value else "(empty)"
        raise ConfigurationError(
            f"{PLATFORM}: webhook address {shown!r} is not an https:// URL (Tracktor only calls https addresses)"
        )
    return value



class TracktorClient:
    """The HTTP side of Tracktor: status options, order and fulfillment tracking, webhooks."""

    def __init__(self, settings: TracktorSettings) -> None:
        self.settings = settings
        key = settings.api_key.get_secret_value()
        redaction.register(key)  # config loading does this too; a client built in code is covered as well
        self.problems = settings.format_problems()
        headers = {"Content-Type": "application/json"}
        if not self.problems:
            headers["x-api-key"] = key
        self.session = http.build_session(headers=headers, pool_size=2, ca_bundle=settings.ca_bundle)

    # -- plumbing -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The full URL of an API path under the shop's uuid, e.g. url("/webhooks.json")."""
        return f"{self.settings.base_url}/{self.settings.uuid}{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; a settings problem (missing uuid or key) is raised before anything is sent."""
        if self.problems:
            raise ConfigurationError(f"{PLATFORM}: " + "; ".join(self.problems))
        return http.send(
            self.session, method, self.url(path), platform=PLATFORM, timeout=self.settings.timeout_seconds, **kwargs
        )

    def raise_for_status(self, response: requests.Response, *, what: str) -> None:
        """The error table (see the module docstring) for everything but the per-call 404s."""
        status = response.status_code
        if 200 <= status < 300:
            return
        message = _message(response)
        if status in (401, 403):
            raise AuthError(
                f"{PLATFORM} refused the request ({what}: HTTP {status} {message}): {_AUTH_HINT}",
                http_status=status,
            )
        if status == 404:
            raise ConfigurationError(
                f"{PLATFORM}: HTTP 404 for {what} ({message}): is tracktor.uuid right? (and tracktor.base_url)",
                http_status=status,
            )
        if status in (400, 422):
            raise PermanentError(f"{PLATFORM} refused {what}: {message}", http_status=status)
        http.raise_for_status(response, platform=PLATFORM, detail=f"{what}: {message}")

    def _json(self, response: requests.Response, *, what: str) -> Any:
        body = http.json_body(response)
        if body is None:
            kind = "an HTML page" if http.is_html(response) else "a body that is not JSON"
            raise RetryableError(f"{PLATFORM}: {what} answered HTTP {response.status_code} with {kind}")
        return body

    @staticmethod
    def _check_id(value: Any, what: str) -> str:
        text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""
        if not PLAIN_ID.fullmatch(text):
            raise PermanentError(f"{PLATFORM}: {str(value)[:70]!r} is not a {what} id (letters, digits, - and _)")
        return text

    # -- reads ----------------------------------------------------------------------------

    def status_options(self) -> list[dict[str, Any]]:
        """The shop's shipment status options (built-in and custom), each with ``slug`` and ``name``."""
        what = "status options"
        response = self.request("GET", "/status-options.json")
        self.raise_for_status(response, what=what)
        body = self._json(response, what=what)
        if not isinstance(body, dict | list):
            raise RetryableError(f"{PLATFORM}: unexpected answer reading {what}")
        return parse_status_options(body)

    def order_tracking(self, tracktor_order_id: str) -> OrderTracking | None:
        """An order's tracking, or None when Tracktor does not know the order (404)."""
        order_id = self._check_id(tracktor_order_id, "Tracktor order")
        what = f"order {order_id}"
        response = self.request("GET", f"/orders/{order_id}.json")
        if response.status_code == 404 and not _unknown_shop(response):
            return None
        self.raise_for_status(response, what=what)
        tracking = parse_order_tracking(self._json(response, what=what), order_id)
        if tracking is None:
            raise RetryableError(f"{PLATFORM}: unexpected answer reading {what}")
        return tracking

    def fulfillment(self, fulfillment_id: str) -> Fulfillment | None:
        """One fulfillment's tracking, or None when Tracktor does not know it (404)."""
        checked = self._check_id(fulfillment_id, "Tracktor fulfillment")
        what = f"fulfillment {checked}"
        response = self.request("GET", f"/fulfillments/{checked}.json")
        if response.status_code == 404 and not _unknown_shop(response):
            return None
        self.raise_for_status(response, what=what)
        parsed = parse_fulfillment(self._json(response, what=what))
        if parsed is None:
            raise RetryableError(f"{PLATFORM}: unexpected answer reading {what}")
        return parsed if parsed.fulfillment_id else replace(parsed, fulfillment_id=checked)

    def webhooks(self) -> list[dict[str, Any]]:
        """The shop's webhooks as Tracktor lists them (``id``, ``topic``, ``address``, …)."""
        what = "the webhook list"
        response = self.request("GET", "/webhooks.json")
        self.raise_for_status(response, what=what)
        body = unwrap(self._json(response, what=what), "webhooks")
        if not isinstance(body, list):
            raise RetryableError(f"{PLATFORM}: unexpected answer reading {what}")
        return [item for item in body if isinstance(item, dict)]

    # -- writes ---------------------------------------------------------------------------

    def update_order_status(self, tracktor_order_id: str, status: str) -> dict[str, Any]:
        """Set an order's manual tracking status (a status option slug); returns Tracktor's order."""
        order_id = self._check_id(tracktor_order_id, "Tracktor order")
        slug = status.strip() if isinstance(status, str) else ""
        if not slug:
            raise PermanentError(f"{PLATFORM}: a manual status needs a status option slug (e.g. in_transit)")
        what = f"the manual status {slug!r} for order {order_id}"
        response = self.request("POST", f"/orders/{order_id}.json", json={"status": slug})
        if response.status_code == 404 and not _unknown_shop(response):
            raise PermanentError(f"{PLATFORM} does not know order {order_id} ({_message(response)})", http_status=404)
        self.raise_for_status(response, what=what)
        body = unwrap(self._json(response, what=what), "order")
        return body if isinstance(body, dict) else {}

    def create_webhook(self, topic: str, url: str) -> dict[str, Any]:
        """Create a webhook; the topic and the https address are checked before any request."""
        if topic not in WEBHOOK_TOPICS:
            shown = str(topic)[:60]
            raise ConfigurationError(
                f"{PLATFORM}: {shown!r} is not a webhook topic (valid: {', '.join(WEBHOOK_TOPICS)})"
            )
        address = check_webhook_address(url)
        what = f"the {topic} webhook"
        response = self.request("POST", "/webhooks.json", json={"webhook": {"topic": topic, "address": address}})
        self.raise_for_status(response, what=what)
        body = unwrap(self._json(response, what=what), "webhook")
        if not isinstance(body, dict):
            raise RetryableError(f"{PLATFORM}: unexpected answer creating {what}")
        return body

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook; PermanentError when Tracktor has no webhook with that id."""
        checked = str(webhook_id).strip()
        if not _WEBHOOK_ID.fullmatch(checked):
            raise PermanentError(f"{PLATFORM}: {checked[:40]!r} is not a webhook id (a number, see `webhooks list`)")
        what = f"webhook {checked}"
        response = self.request("DELETE", f"/webhooks/{checked}.json")
        if response.status_code == 404 and not _unknown_shop(response):
            raise PermanentError(
                f"{PLATFORM} has no webhook {checked} ({_message(response)}); list them with "
                "`sync-daemon tracktor webhooks list`",
                http_status=404,
            )
        self.raise_for_status(response, what=what)


    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> TracktorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
