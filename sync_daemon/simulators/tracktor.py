"""A Tracktor (ShopPad) simulator: status options, order and fulfillment tracking, manual status, webhooks.

The API lives under ``/apps/tracktor/api/admin/{uuid}/`` like the real one, so ``base_url`` (the
settings' ``tracktor.base_url``) is ``{url}/apps/tracktor/api/admin``.

Checks, in order: ``x-api-key`` (missing or wrong → 401 ``{"error": "Unauthorized"}``) → the uuid
in the path (unknown → 404 ``{"error": "Shop not found"}``) → the request (body, validation, the
action). Paths no route knows → 404 ``{"error": "Not Found"}``; wrong method → 405.

Keys: the contract gives every endpoint, the webhook routes included, the same ``x-api-key`` header
and documents no permissions or scopes (no read-only or webhook-only keys, no "forbidden" answer).
So the shop has one key, it is checked on every route, and no permission check is invented: the
same key that reads tracking lists, creates and deletes webhooks.

Choices where the contract is silent:

- Envelopes are Shopify-style: ``{"status_options": [...]}``, ``{"order": {...}}``,
  ``{"fulfillment": {...}}``, ``{"webhooks": [...]}``, ``{"webhook": {...}}``. Errors are
  ``{"error": "<message>"}``; validation errors (422) add ``"errors": {"<field>": ["<problem>"]}``.
- Status options are ``{"slug", "name", "is_custom"}``: the four built-in ones plus the custom
  ``ready_for_pickup`` ("Ready for pickup") unless ``custom_statuses`` says otherwise.
- Ids are Shopify-like: an order id of digits is answered as an integer (``order_id``), any other
  plain id (letters, digits, ``-``, ``_``) as a string. Fulfillment and webhook ids are integers
  assigned by the simulator (fulfillments may bring their own).
- An order's ``statuses`` has one item per fulfillment (its ``shipment_status``) and
  ``exception_statuses`` one item per fulfillment that has an exception, in fulfillment order.
  ``days_since_ordered`` is set only when every fulfillment is delivered (whole days from
  ``order_created_at`` to the last delivery); ``automatic_carrier_updates`` turns false after a
  manual status.
- ``advance`` is what a carrier update does: any status option, in any order (carriers do step
  back, e.g. a failed delivery attempt), clearing the fulfillment's exception. ``set_exception``
  sets or clears (None) the exception and leaves the shipment status alone.
- POST bodies must be JSON objects (else 400 ``{"error": "Invalid JSON body"}``).
  Manual status (POST ``orders/{id}.json``): ``{"status": "<slug>"}``, the slug one of the status
  options (422 otherwise); it sets every fulfillment's ``shipment_status``, clears their exceptions
  and sets ``is_automatic`` false; an order without fulfillments → 422; unknown order → 404
  ``{"error": "Order not found"}``. Answer: 200 ``{"order": {...}}``.
- Webhook create: ``{"webhook": {"topic": ..., "address": ...}}`` (422 when the envelope is
  missing), topic one of the ten documented ones (422 ``{"topic": ["is not a valid topic"]}``),
  address an absolute ``https://`` URL (422), the same topic + address twice → 422 ``has already
  been taken``. Answer 200 ``{"webhook": {"id", "topic", "address", "created_at", "updated_at"}}``.
  Delete: 200 ``{}``; unknown id → 404 ``{"error": "Webhook not found"}``.
- ``manual_updates()`` and ``webhook_calls()`` record every call that passed the key and uuid
  checks with its outcome (accepted or not, HTTP status), oldest first.
- ``reset()`` forgets orders, webhooks and recorded calls; uuid, key and status options stay.
"""

from __future__ import annotations

import copy
import hmac
import re
import secrets
import string
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import Request, Response, SimulatorServer, admin_error, admin_json

API_PREFIX = "/apps/tracktor/api/admin"
BUILT_IN_STATUSES = (
    ("order_ready", "Order ready"),
    ("in_transit", "In transit"),
    ("out_for_delivery", "Out for delivery"),
    ("delivered", "Delivered"),
)
CUSTOM_STATUSES = (("ready_for_pickup", "Ready for pickup"),)
EXCEPTION_STATUSES = ("not_found", "exception", "undelivered", "pending", "expired")
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
SHOP_URL = "example-shop.myshopify.com"
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FULFILLMENT_FIELDS = {
    "fulfillment_id",
    "carrier",
    "carrier_slug",
    "tracking_number",
    "shipment_status",
    "exception_status",
    "fulfillment_status",
    "line_items",
}
_ORDER_FIELDS = {
    "order_name",
    "email",
    "phone",
    "source_name",
    "customer_first_name",
    "customer_last_name",
    "total_price",
    "created_at",
}


def _error(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if errors:
        body["errors"] = errors
    return Response.json(status, body)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "other"


def _public_id(order_id: str) -> int | str:
    return int(order_id) if order_id.isdigit() else order_id


class TracktorSimulator(SimulatorServer):
    """Tracktor's admin API for one shop (one uuid, one API key)."""

    name = "tracktor"

    def __init__(
        self,
        uuid: str | None = None,
        api_key: str | None = None,
        *,
        custom_statuses: tuple[tuple[str, str], ...] | list[tuple[str, str]] = CUSTOM_STATUSES,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.uuid = uuid or secrets.token_hex(16)
        self.api_key = api_key or "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.status_options_list: list[dict[str, Any]] = [
            {"slug": slug, "name": name, "is_custom": False} for slug, name in BUILT_IN_STATUSES
        ] + [{"slug": slug, "name": name, "is_custom": True} for slug, name in custom_statuses]
        self.reset_state()
        shop = API_PREFIX + "/{uuid}"
        self.route("GET", shop + "/status-options.json", self._status_options)
        self.route("GET", shop + "/orders/{order_id}.json", self._get_order)
        self.route("POST", shop + "/orders/{order_id}.json", self._manual_status)
        self.route("GET", shop + "/fulfillments/{fulfillment_id}.json", self._get_fulfillment)
        self.route("GET", shop + "/webhooks.json", self._list_webhooks)
        self.route("POST", shop + "/webhooks.json", self._create_webhook)
        self.route("DELETE", shop + "/webhooks/{webhook_id}.json", self._delete_webhook)
        self.route("GET", "/orders", lambda r: Response.json(200, {"orders": self.orders()}), admin=True)
        self.route("POST", "/orders", self._admin_add_order, admin=True)
        self.route("POST", "/orders/{order_id}/advance", self._admin_advance, admin=True)
        self.route("POST", "/orders/{order_id}/exception", self._admin_exception, admin=True)
        self.route(
            "GET",
            "/webhooks",
            lambda r: Response.json(200, {"webhooks": self.webhooks(), "calls": self.webhook_calls()}),
            admin=True,
        )
        self.route("GET", "/manual-updates", self._admin_manual_updates, admin=True)

    @property
    def base_url(self) -> str:
        """What ``tracktor.base_url`` should be (after start)."""
        return self.url + API_PREFIX

    @property
    def credentials(self) -> dict[str, Any]:
        """uuid, api_key and base_url."""
        return {"uuid": self.uuid, "api_key": self.api_key, "base_url": self.base_url if self._httpd else ""}

    def reset_state(self) -> None:
        """Forget orders, webhooks and recorded calls."""
        with self.lock:
            self._orders: dict[str, dict[str, Any]] = {}
            self._webhooks: dict[int, dict[str, Any]] = {}
            self._webhook_calls: list[dict[str, Any]] = []
            self._manual: list[dict[str, Any]] = []
            self._next_fulfillment_id = 5_100_000_001
            self._next_webhook_id = 9001

    # -- envelope hooks ---------------------------------------------------------------------

    def error_response(self, status: int, message: str, code: str | None = None) -> Response:
        """Tracktor's error envelope (also used by injected faults)."""
        return _error(status, message)

    def not_found(self, request: Request) -> Response:
        """Unknown path."""
        return _error(404, "Not Found")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Known path, wrong method."""
        return _error(405, "Method Not Allowed", {"method": [f"allowed: {', '.join(allowed)}"]})

    def pre_dispatch(self, request: Request) -> Response | None:
        """The key first, then the shop's uuid."""
        if request.route is None:
            return None
        key = (request.header("x-api-key") or "").strip()
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _error(401, "Unauthorized")
        if unquote(request.params.get("uuid", "")) != self.uuid:
            return _error(404, "Shop not found")
        return None

    # -- views ------------------------------------------------------------------------------

    def _option(self, slug: str) -> dict[str, Any] | None:
        return next((o for o in self.status_options_list if o["slug"] == slug), None)

    def _fulfillment_view(self, order: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        current = item["shipment_status"]
        option = self._option(current) or {"slug": current, "name": current}
        history = item["history"]
        return {
            "shop_url": SHOP_URL,
            "order_id": _public_id(order["order_id"]),
            "order_name": order["order_name"],
            "shopify_carrier": item["shopify_carrier"],
            "carrier": {"slug": item["carrier_slug"], "name": item["carrier_name"]},
            "tracking_number": item["tracking_number"],
            "fulfillment_id": item["fulfillment_id"],
            "fulfillment_status": item["fulfillment_status"],
            "shipment_status": current,
            "exception_status": item["exception_status"],
            "is_automatic": item["is_automatic"],
            "line_items": copy.deepcopy(item["line_items"]),
            "latest_status": {
                "status": current,
                "name": option["name"],
                "exception_status": item["exception_status"],
                "updated_at": _iso(history[-1][1]) if history else None,
            },
            "status": [
                {
                    "slug": o["slug"],
                    "name": o["name"],
                    "is_current": o["slug"] == current,
                    "reached_at": _iso(next((at for s, at in reversed(history) if s == o["slug"]), None)),
                }
                for o in self.status_options_list
            ],
        }

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        fulfillments = order["fulfillments"]
        days = None
        if fulfillments and all(f["shipment_status"] == "delivered" for f in fulfillments):
            delivered = max(
                next((at for s, at in reversed(f["history"]) if s == "delivered"), order["created_at"])
                for f in fulfillments
            )
            days = max(0, (delivered - order["created_at"]).days)
        first, last = order["customer_first_name"], order["customer_last_name"]
        return {
            "order_id": _public_id(order["order_id"]),
            "order_name": order["order_name"],
            "order_email": order["email"],
            "order_phone": order["phone"],
            "order_source_name": order["source_name"],
            "order_created_at": _iso(order["created_at"]),
            "customer_first_name": first,
            "customer_last_name": last,
            "customer_full_name": " ".join(part for part in (first, last) if part),
            "total_price": order["total_price"],
            "line_item_count": sum(len(f["line_items"]) for f in fulfillments),
            "statuses": [f["shipment_status"] for f in fulfillments],
            "exception_statuses": [f["exception_status"] for f in fulfillments if f["exception_status"]],
            "days_since_ordered": days,
            "automatic_carrier_updates": order["automatic_carrier_updates"],
            "fulfillments": [self._fulfillment_view(order, f) for f in fulfillments],
        }

    def _find_fulfillment(self, fulfillment_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for order in self._orders.values():
            for item in order["fulfillments"]:
                if str(item["fulfillment_id"]) == fulfillment_id:
                    return order, item
        return None

    # -- API --------------------------------------------------------------------------------

    def _status_options(self, request: Request) -> Response:
        return Response.json(200, {"status_options": copy.deepcopy(self.status_options_list)})

    def _get_order(self, request: Request) -> Response:
        order = self._orders.get(unquote(request.params["order_id"]))
        if order is None:
            return _error(404, "Order not found")
        return Response.json(200, {"order": self._order_view(order)})

    def _get_fulfillment(self, request: Request) -> Response:
        found = self._find_fulfillment(unquote(request.params["fulfillment_id"]))
        if found is None:
            return _error(404, "Fulfillment not found")
        return Response.json(200, {"fulfillment": self._fulfillment_view(*found)})

    @staticmethod
    def _body(request: Request) -> dict[str, Any] | None:
        try:
            data = request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _manual_status(self, request: Request) -> Response:
        order_id = unquote(request.params["order_id"])
        body = self._body(request)
        response = self._apply_manual(order_id, body)
        self._manual.append(
            {
                "order_id": order_id,
                "status": body.get("status") if body else None,
                "body": copy.deepcopy(body),
                "accepted": response.status == 200,
                "http_status": response.status,
                "at": _iso(_now()),
            }
        )
        return response

    def _apply_manual(self, order_id: str, body: dict[str, Any] | None) -> Response:
        if body is None:
            return _error(400, "Invalid JSON body")
        order = self._orders.get(order_id)
        if order is None:
            return _error(404, "Order not found")
        status = body.get("status")
        if not isinstance(status, str) or not status.strip():
            return _error(422, "Validation failed", {"status": ["is required"]})
        if self._option(status) is None:
            problem = f"{status[:60]!r} is not a status option of this shop"
            return _error(422, "Validation failed", {"status": [problem]})
        if not order["fulfillments"]:
            return _error(422, "Validation failed", {"order": ["has no fulfillments to update"]})
        now = _now()
        for item in order["fulfillments"]:
            item["shipment_status"] = status
            item["exception_status"] = None
            item["is_automatic"] = False
            item["history"].append((status, now))
        order["automatic_carrier_updates"] = False
        return Response.json(200, {"order": self._order_view(order)})

    def _list_webhooks(self, request: Request) -> Response:
        return Response.json(200, {"webhooks": copy.deepcopy(list(self._webhooks.values()))})

    def _create_webhook(self, request: Request) -> Response:
        body = self._body(request)
        response = self._apply_create(body)
        inner = body.get("webhook") if body else None
        inner = inner if isinstance(inner, dict) else {}
        created = response.body.get("webhook") if response.status == 200 else None
        self._webhook_calls.append(
            {
                "action": "create",
                "topic": inner.get("topic"),
                "address": inner.get("address"),
                "webhook_id": created["id"] if created else None,
                "accepted": response.status == 200,
                "http_status": response.status,
                "at": _iso(_now()),
            }
        )
        return response

    def _apply_create(self, body: dict[str, Any] | None) -> Response:
        if body is None:
            return _error(400, "Invalid JSON body")
        webhook = body.get("webhook")
        if not isinstance(webhook, dict):
            return _error(422, "Validation failed", {"webhook": ["is required (an object with topic and address)"]})
        errors: dict[str, list[str]] = {}
        topic, address = webhook.get("topic"), webhook.get("address")
        if not isinstance(topic, str) or not topic:
            errors["topic"] = ["is required"]
        elif topic not in WEBHOOK_TOPICS:
            errors["topic"] = ["is not a valid topic"]
        if not isinstance(address, str) or not address.strip():
            errors["address"] = ["is required"]
        else:
            parts = urlsplit(address.strip())
            if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in address.strip()):
                errors["address"] = ["must be an https URL"]
        if not errors and any(w["topic"] == topic and w["address"] == address.strip() for w in self._webhooks.values()):
            errors["address"] = ["has already been taken for this topic"]
        if errors:
            return _error(422, "Validation failed", errors)
        now = _iso(_now())
        created = {
            "id": self._next_webhook_id,
            "topic": topic,
            "address": address.strip(),
            "created_at": now,
            "updated_at": now,
        }
        self._next_webhook_id += 1
        self._webhooks[created["id"]] = created
        return Response.json(200, {"webhook": copy.deepcopy(created)})

    def _delete_webhook(self, request: Request) -> Response:
        raw = unquote(request.params["webhook_id"])
        found = self._webhooks.pop(int(raw), None) if raw.isdigit() else None
        status = 200 if found else 404
        self._webhook_calls.append(
            {
                "action": "delete",
                "topic": found["topic"] if found else None,
                "address": found["address"] if found else None,
                "webhook_id": int(raw) if raw.isdigit() else raw,
                "accepted": found is not None,
                "http_status": status,
                "at": _iso(_now()),
            }
        )
        return Response.json(200, {}) if found else _error(404, "Webhook not found")

    # -- Python admin API -------------------------------------------------------------------

    def add_order(
        self, order_id: str | int, fulfillments: list[dict[str, Any]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Create a tracked order; returns its API view. Raises ValueError on a bad id or field.

        A fulfillment is ``{"carrier": "DHL Express" | {"slug", "name"}, "tracking_number": ...,
        "shipment_status": "order_ready", "exception_status": None, "fulfillment_status": "fulfilled",
        "line_items": [...], "fulfillment_id": ...}`` (every key optional). ``fields`` may set
        order_name, email, phone, source_name, customer_first_name, customer_last_name, total_price
        and created_at (an aware datetime).
        """
        key = str(order_id).strip()
        if isinstance(order_id, bool) or not _PLAIN_ID.fullmatch(key):
            raise ValueError(f"order id {order_id!r} must be letters, digits, - or _")
        unknown = set(fields) - _ORDER_FIELDS
        if unknown:
            raise ValueError(f"unknown order field(s): {', '.join(sorted(unknown))}")
        if fulfillments is not None and not isinstance(fulfillments, list):
            raise ValueError("fulfillments must be a list")
        created_at = fields.get("created_at") or _now()
        if not isinstance(created_at, datetime) or created_at.tzinfo is None:
            raise ValueError("created_at must be an aware datetime")
        with self.lock:
            if key in self._orders:
                raise ValueError(f"order {key} already exists")
            items = [self._new_fulfillment(spec, created_at) for spec in fulfillments or []]
            self._orders[key] = {
                "order_id": key,
                "order_name": fields.get("order_name") or f"#{key}",
                "email": fields.get("email", "customer@example.com"),
                "phone": fields.get("phone", "+8801711000000"),
                "source_name": fields.get("source_name", "web"),
                "customer_first_name": fields.get("customer_first_name", "Rahim"),
                "customer_last_name": fields.get("customer_last_name", "Uddin"),
                "total_price": float(fields.get("total_price", 1200.0)),
                "created_at": created_at,
                "automatic_carrier_updates": True,
                "fulfillments": items,
            }
            return self._order_view(self._orders[key])

    def _new_fulfillment(self, spec: Any, created_at: datetime) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ValueError("a fulfillment must be an object")
        unknown = set(spec) - _FULFILLMENT_FIELDS
        if unknown:
            raise ValueError(f"unknown fulfillment field(s): {', '.join(sorted(unknown))}")
        carrier = spec.get("carrier")
        if isinstance(carrier, dict):
            name = str(carrier.get("name") or carrier.get("slug") or "")
            slug = str(carrier.get("slug") or _slugify(name))
        else:
            name = str(carrier or "")
            slug = str(spec.get("carrier_slug") or (_slugify(name) if name else ""))
        status = spec.get("shipment_status", "order_ready")
        if self._option(status) is None:
            raise ValueError(f"shipment_status {status!r} is not a status option")
        exception = spec.get("exception_status")
        if exception is not None and exception not in EXCEPTION_STATUSES:
            raise ValueError(f"exception_status must be one of {', '.join(EXCEPTION_STATUSES)} or null")
        fulfillment_id = spec.get("fulfillment_id")
        if fulfillment_id is None:
            fulfillment_id = self._next_fulfillment_id
            self._next_fulfillment_id += 1
        elif isinstance(fulfillment_id, bool) or not isinstance(fulfillment_id, int):
            raise ValueError("fulfillment_id must be an integer")
        elif self._find_fulfillment(str(fulfillment_id)) is not None:
            raise ValueError(f"fulfillment {fulfillment_id} already exists")
        line_items = spec.get("line_items")
        if line_items is None:
            line_items = [
                {"id": 1, "name": "T-shirt", "quantity": 1, "requires_shipping": True, "product_id": 1, "variant_id": 1}
            ]
        return {
            "fulfillment_id": fulfillment_id,
            "carrier_name": name or None,
            "carrier_slug": slug or None,
            "shopify_carrier": name or None,
            "tracking_number": spec.get("tracking_number"),
            "fulfillment_status": spec.get("fulfillment_status", "fulfilled"),
            "shipment_status": status,
            "exception_status": exception,
            "is_automatic": True,
            "line_items": copy.deepcopy(line_items),
            "history": [(status, created_at)],
        }

    def _fulfillment_at(self, order_id: str | int, index: int) -> dict[str, Any]:
        order = self._orders[str(order_id)]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(order["fulfillments"]):
            raise IndexError(f"order {order_id} has no fulfillment #{index}")
        return order["fulfillments"][index]

    def advance(self, order_id: str | int, status: str, fulfillment_index: int = 0) -> dict[str, Any]:
        """A carrier update: set a fulfillment's shipment status (clears its exception); returns the order.

        Raises KeyError (unknown order), IndexError (no such fulfillment), ValueError (not a status option).
        """
        with self.lock:
            if self._option(status) is None:
                raise ValueError(f"{status!r} is not a status option")
            item = self._fulfillment_at(order_id, fulfillment_index)
            item["shipment_status"] = status
            item["exception_status"] = None
            item["history"].append((status, _now()))
            return self._order_view(self._orders[str(order_id)])

    def set_exception(
        self, order_id: str | int, exception_status: str | None, fulfillment_index: int = 0
    ) -> dict[str, Any]:
        """Set (or clear, with None) a fulfillment's exception status; returns the order."""
        with self.lock:
            if exception_status is not None and exception_status not in EXCEPTION_STATUSES:
                raise ValueError(f"exception_status must be one of {', '.join(EXCEPTION_STATUSES)} or null")
            item = self._fulfillment_at(order_id, fulfillment_index)
            item["exception_status"] = exception_status
            return self._order_view(self._orders[str(order_id)])

    def order(self, order_id: str | int) -> dict[str, Any] | None:
        """One order's API view, or None."""
        with self.lock:
            stored = self._orders.get(str(order_id))
            return self._order_view(stored) if stored else None

    def orders(self) -> list[dict[str, Any]]:
        """Every order's API view, in creation order."""
        with self.lock:
            return [self._order_view(order) for order in self._orders.values()]

    def webhooks(self) -> list[dict[str, Any]]:
        """The webhooks that exist now."""
        with self.lock:
            return copy.deepcopy(list(self._webhooks.values()))

    def webhook_calls(self) -> list[dict[str, Any]]:
        """Every create/delete call that passed the key and uuid checks, with its outcome."""
        with self.lock:
            return copy.deepcopy(self._webhook_calls)

    def manual_updates(self) -> list[dict[str, Any]]:
        """Every manual-status call that passed the key and uuid checks, with its outcome."""
        with self.lock:
            return copy.deepcopy(self._manual)

    # -- HTTP admin API ---------------------------------------------------------------------

    def _admin_add_order(self, request: Request) -> Response:
        try:
            body = admin_json(request, dict)
            fields = {k: v for k, v in body.items() if k not in ("order_id", "fulfillments")}
            if "created_at" in fields:
                fields["created_at"] = datetime.fromisoformat(str(fields["created_at"]))
            if "order_id" not in body:
                raise ValueError("order_id is required")
            return Response.json(201, {"order": self.add_order(body["order_id"], body.get("fulfillments"), **fields)})
        except (ValueError, TypeError) as exc:
            return admin_error(str(exc))

    def _admin_change(self, request: Request, field: str) -> Response:
        try:
            body = admin_json(request, dict)
            order_id = unquote(request.params["order_id"])
            index = body.get("fulfillment_index", 0)
            if field == "status":
                view = self.advance(order_id, body.get("status"), index)
            else:
                view = self.set_exception(order_id, body.get("exception_status"), index)
        except KeyError:
            return admin_error("order not found", 404)
        except (ValueError, IndexError) as exc:
            return admin_error(str(exc))
        return Response.json(200, {"order": view})

    def _admin_manual_updates(self, request: Request) -> Response:
        return Response.json(200, {"manual_updates": self.manual_updates()})

    def _admin_advance(self, request: Request) -> Response:
        return self._admin_change(request, "status")

    def _admin_exception(self, request: Request) -> Response:
        return self._admin_change(request, "exception_status")
