"""A GoTrack.bd order API simulator (``POST /api/v1/orders``, HTTP Basic auth).

Checks, in order: Basic auth (401 ``unauthorized``) -> body is a JSON object (400
``bad_request``) -> required fields (400 ``bad_request``) -> field validation (422
``validation_failed``) -> idempotency on (external_source or "external", external_order_id):
an existing order is returned with 200 and ``"idempotent": true``, else a new one with 201.

Choices where the contract is silent:

- Types are strict JSON types: numbers must be JSON numbers (not numeric strings, not bools),
  ``quantity`` a JSON integer (``2.0`` is rejected). NaN/Infinity make the body invalid JSON.
- Strings are trimmed and empty ones count as missing (Laravel's TrimStrings and
  ConvertEmptyStringsToNull): a blank ``customer.phone`` is 400, a blank item name 422.
- ``customer`` that is not an object counts as a missing phone (400); ``line_items`` present
  but not an array is 422, missing/null/empty is 400. Only the first problem is reported,
  in the documented envelope.
- An order without ``external_order_id`` is never deduplicated.
- The idempotent replay returns the stored order even when the new payload differs.
- ``total_selling_price`` when omitted is sum(quantity * selling_price) + delivery_charge +
  cod_charge, computed in Decimal and returned as a float.
- Other methods on the endpoint -> 405 ``method_not_allowed`` (before auth); other paths -> 404
  ``not_found``; injected faults use the same envelope.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import secrets
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .base import Request, Response, SimulatorServer

ENDPOINT = "/api/v1/orders"
FIRST_ORDER_ID = 300
_ALNUM = string.ascii_letters + string.digits


class _Invalid(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def gotrack_error(status: int, code: str, message: str) -> Response:
    """The documented error envelope."""
    return Response.json(status, {"ok": False, "error": {"code": code, "message": message}})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class GoTrackSimulator(SimulatorServer):
    """GoTrack.bd: create orders with Basic auth, idempotent by external order id."""

    name = "gotrack"

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.rotate_credentials()
        self.reset_state()
        self.route("POST", ENDPOINT, self._create)
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            self.route(method, ENDPOINT, self._not_allowed)
        self.route("GET", "/orders", lambda r: Response.json(200, self.admin_orders()), admin=True)
        self.route("POST", "/rotate", lambda r: Response.json(200, self.rotate_credentials()), admin=True)

    @property
    def endpoint(self) -> str:
        """The order endpoint URL."""
        return self.url + ENDPOINT

    @property
    def credentials(self) -> dict[str, str]:
        """api_key, api_secret and endpoint."""
        return {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "endpoint": self.endpoint if self._httpd else "",
        }

    def rotate_credentials(self) -> dict[str, str]:
        """Regenerate key and secret; the old ones stop working at once. Returns the new ones."""
        with self.lock:
            self.api_key = "fbc_" + secrets.token_hex(12)
            self.api_secret = "".join(secrets.choice(_ALNUM) for _ in range(40))
        return self.credentials

    def reset_state(self) -> None:
        """Forget every order."""
        with self.lock:
            self._orders: list[dict[str, Any]] = []
            self._by_key: dict[tuple[str, str], dict[str, Any]] = {}
            self._requests: dict[str, int] = {}
            self._next_id = FIRST_ORDER_ID

    # -- envelope hooks ---------------------------------------------------------------------

    def error_response(self, status: int, message: str, code: str | None = None) -> Response:
        """Errors (also injected faults) in the documented envelope."""
        return gotrack_error(status, code or "server_error", message)

    def not_found(self, request: Request) -> Response:
        """Unknown path."""
        return gotrack_error(404, "not_found", "Not found.")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Wrong method on a known path."""
        return gotrack_error(405, "method_not_allowed", "Method not allowed.")

    def _not_allowed(self, request: Request) -> Response:
        return self.method_not_allowed(request, ["POST"])

    # -- the endpoint -----------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            return False
        try:
            user, sep, password = (
                base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (
            bool(sep)
            and hmac.compare_digest(user, self.api_key)
            and hmac.compare_digest(password, self.api_secret)
        )

    def _create(self, request: Request) -> Response:
        if not self._authorized(request):
            return gotrack_error(401, "unauthorized", "Invalid API key/secret.")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return gotrack_error(400, "bad_request", "Request body must be a JSON object.")
        ext_id = body.get("external_order_id")
        source = body.get("external_source")
        source = source.strip() if isinstance(source, str) and source.strip() else "external"
        if isinstance(ext_id, str) and ext_id.strip():
            label = f"{source}:{ext_id.strip()}"
            self._requests[label] = self._requests.get(label, 0) + 1
        try:
            self._validate(body)
        except _Invalid as exc:
            return gotrack_error(exc.status, exc.code, exc.message)
        key = (source, ext_id.strip()) if isinstance(ext_id, str) and ext_id.strip() else None
        if key and key in self._by_key:
            stored = self._by_key[key]
            return Response.json(200, {"ok": True, "order": dict(stored["order"]), "idempotent": True})
        order = {
            "id": self._next_id,
            "status": "pending",
            "total_selling_price": self._total(body),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._next_id += 1
        stored = {
            "id": order["id"],
            "external_source": source,
            "external_order_id": key[1] if key else None,
            "payload": copy.deepcopy(body),
            "order": order,
        }
        self._orders.append(stored)
        if key:
            self._by_key[key] = stored
        return Response.json(201, {"ok": True, "order": dict(order)})

    @staticmethod
    def _validate(body: dict[str, Any]) -> None:
        # A non-object customer has no phone: the "required" check fires first, as in Laravel.
        customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
        if _blank(customer.get("phone")):
            raise _Invalid(400, "bad_request", "customer.phone is required")
        items = body.get("line_items")
        if items is None or items == []:
            raise _Invalid(400, "bad_request", "line_items is required")
        if not isinstance(items, list):
            raise _Invalid(422, "validation_failed", "line_items must be an array.")
        for field in ("phone", "name", "address"):
            if customer.get(field) is not None and not isinstance(customer[field], str):
                raise _Invalid(422, "validation_failed", f"customer.{field} must be a string.")
        for i, item in enumerate(items):
            _validate_item(i, item)
        for field in ("delivery_charge", "cod_charge", "total_selling_price"):
            value = body.get(field)
            if value is None:
                continue
            if not _is_number(value):
                raise _Invalid(422, "validation_failed", f"{field} must be a number.")
            if value < 0:
                raise _Invalid(422, "validation_failed", f"{field} must be at least 0.")
        for field in ("external_order_id", "external_source"):
            if body.get(field) is not None and not isinstance(body[field], str):
                raise _Invalid(422, "validation_failed", f"{field} must be a string.")

    @staticmethod
    def _total(body: dict[str, Any]) -> float:
        if body.get("total_selling_price") is not None:
            return float(body["total_selling_price"])
        total = sum(
            (Decimal(str(i["quantity"])) * Decimal(str(i["selling_price"])) for i in body["line_items"]),
            Decimal(0),
        )
        for field in ("delivery_charge", "cod_charge"):
            total += Decimal(str(body.get(field) or 0))
        return float(total)

    # -- admin ------------------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Stored orders: id, external_source, external_order_id, payload (as received), order, requests."""
        with self.lock:
            out = copy.deepcopy(self._orders)
            for stored in out:
                label = f"{stored['external_source']}:{stored['external_order_id']}"
                stored["requests"] = self._requests.get(label, 0) if stored["external_order_id"] else 1
            return out

    def order_by_external_id(self, source: str, external_id: str) -> dict[str, Any] | None:
        """The stored order for (source, external id), or None."""
        for stored in self.orders():
            if stored["external_source"] == source and stored["external_order_id"] == external_id:
                return stored
        return None

    def requests_by_external_id(self) -> dict[str, int]:
        """Authenticated create requests per "source:external_order_id" (any outcome)."""
        with self.lock:
            return dict(self._requests)

    def admin_orders(self) -> dict[str, Any]:
        """What GET /__admin__/orders returns."""
        return {"orders": self.orders(), "requests_by_external_id": self.requests_by_external_id()}


def _validate_item(i: int, item: Any) -> None:
    where = f"line_items.{i}"
    if not isinstance(item, dict):
        raise _Invalid(422, "validation_failed", f"{where} must be an object.")
    name = item.get("name")
    if _blank(name):
        raise _Invalid(422, "validation_failed", f"{where}.name is required.")
    if not isinstance(name, str):
        raise _Invalid(422, "validation_failed", f"{where}.name must be a string.")
    qty = item.get("quantity")
    if qty is None:
        raise _Invalid(422, "validation_failed", f"{where}.quantity is required.")
    if not isinstance(qty, int) or isinstance(qty, bool):
        raise _Invalid(422, "validation_failed", f"{where}.quantity must be an integer.")
    if qty <= 0:
        raise _Invalid(422, "validation_failed", f"{where}.quantity must be greater than 0.")
    price = item.get("selling_price")
    if price is None:
        raise _Invalid(422, "validation_failed", f"{where}.selling_price is required.")
    if not _is_number(price):
        raise _Invalid(422, "validation_failed", f"{where}.selling_price must be a number.")
    if price <= 0:
        raise _Invalid(422, "validation_failed", f"{where}.selling_price must be greater than 0.")
    cost = item.get("cost_price")
    if cost is not None and not _is_number(cost):
        raise _Invalid(422, "validation_failed", f"{where}.cost_price must be a number.")
    if cost is not None and cost < 0:
        raise _Invalid(422, "validation_failed", f"{where}.cost_price must be at least 0.")
