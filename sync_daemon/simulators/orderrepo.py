"""An OrderRepo simulator: track/update orders, read their status, track events.

Checks, in order: ``X-API-KEY`` (401 "API key missing" / "Invalid API key") -> for POSTs the
``Origin`` header (403 "Invalid Origin header" / "Domain not allowed") -> for track only the
monthly limit switch (402) -> body and field validation (422 ``{"message": "Validation error",
"errors": {...}}``) -> the action (duplicate id 422, unknown id on update 404).

Choices where the contract is silent:

- Inputs are normalized like Laravel's TrimStrings + ConvertEmptyStringsToNull: strings are
  trimmed, empty strings become null. Optional fields may be omitted or null.
- Types are strict JSON types: ``total``, ``products[].price`` and ``count`` must be JSON
  integers (no floats, numeric strings or bools). ``currency`` must be 3 uppercase letters.
- A body that is not a JSON object -> 422 ``{"message": "Invalid data payload"}``.
- Update takes the same fields as track (``total`` required) plus an optional ``status``
  (new, processing, done, cancelled); the order's data is replaced, ``updated_at`` bumped,
  ``closed_at`` set when the status becomes done or cancelled and cleared otherwise.
- Origins are compared as scheme://host[:port] (lower case, default ports dropped); an
  allowed entry without a scheme matches that host on http and https.
- Events: the body is validated first (event string, data array of {name, value} strings ->
  422), then the event key (401 "Invalid event key" / "Event is not active").
- Lists are newest first. ``track_requests``/``update_requests`` count every request that got
  past the key and origin checks and named that id, whatever the outcome.
- ``history()`` (``GET /__admin__/history``): per order id, every create, update and single read
  as ``[arrived, "track" | "update" | "read", status, answered]`` (epoch seconds) with the status
  the client got (``None`` when it got no answer: timeout, reset), faults included, so a soak can
  tell a create re-sent after the platform had confirmed the order from one its answer was lost for.
- Unknown paths -> 404 ``{"message": "The route ... could not be found."}``, wrong method -> 405;
  injected faults answer ``{"message": ...}``.
"""

from __future__ import annotations

import copy
import hmac
import math
import re
import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import Request, Response, SimulatorServer, admin_error, admin_json

STATUSES = ("new", "processing", "done", "cancelled")
CLOSED = ("done", "cancelled")
DUPLICATE_ANSWERS = ("validation", "conflict", "bare")
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _message(status: int, message: str) -> Response:
    return Response.json(status, {"message": message})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _normalize(value: Any) -> Any:
    """Laravel's TrimStrings + ConvertEmptyStringsToNull, recursively."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    return value


def normalize_origin(origin: str) -> str | None:
    """scheme://host[:port] of an origin, or None when it is not a valid http(s) origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if port and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}"


class _Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _validate_string(
    errors: _Errors, data: dict[str, Any], field: str, *, required: bool = False, max_len: int | None = None
) -> None:
    value = data.get(field)
    if value is None:
        if required:
            errors.add(field, f"The {field} field is required.")
        return
    if not isinstance(value, str):
        errors.add(field, f"The {field} field must be a string.")
    elif max_len is not None and len(value) > max_len:
        errors.add(field, f"The {field} field must not be greater than {max_len} characters.")


def _validate_int(
    errors: _Errors, data: dict[str, Any], field: str, minimum: int, label: str | None = None
) -> None:
    label = label or field
    value = data.get(field)
    if value is None:
        errors.add(label, f"The {label} field is required.")
    elif not _is_int(value):
        errors.add(label, f"The {label} field must be an integer.")
    elif value < minimum:
        errors.add(label, f"The {label} field must be at least {minimum}.")


def _validate_pairs(errors: _Errors, data: dict[str, Any], field: str, required: bool) -> None:
    pairs = data.get(field)
    if pairs is None:
        if required:
            errors.add(field, f"The {field} field is required.")
        return
    if not isinstance(pairs, list):
        errors.add(field, f"The {field} field must be an array.")
        return
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            errors.add(f"{field}.{i}", f"The {field}.{i} field must be an array.")
            continue
        for key in ("name", "value"):
            _validate_string(
                errors, {f"{field}.{i}.{key}": pair.get(key)}, f"{field}.{i}.{key}", required=True
            )


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def validate_order(data: dict[str, Any], *, with_status: bool) -> _Errors:
    """Field validation shared by track and update (data already normalized)."""
    errors = _Errors()
    _validate_string(errors, data, "id", required=True, max_len=191)
    _validate_int(errors, data, "total", 0)
    currency = data.get("currency")
    if currency is not None:
        if not isinstance(currency, str):
            errors.add("currency", "The currency field must be a string.")
        elif len(currency) != 3:
            errors.add("currency", "The currency field must be 3 characters.")
        elif not re.fullmatch(r"[A-Z]{3}", currency):
            errors.add("currency", "The currency field format is invalid.")
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or not EMAIL_RE.match(email)):
        errors.add("email", "The email field must be a valid email address.")
    _validate_string(errors, data, "phone")
    _validate_string(errors, data, "username")
    products = data.get("products")
    if products is not None and not isinstance(products, list):
        errors.add("products", "The products field must be an array.")
    for i, product in enumerate(products if isinstance(products, list) else []):
        where = f"products.{i}"
        if not isinstance(product, dict):
            errors.add(where, f"The {where} field must be an array.")
            continue
        _validate_string(errors, {f"{where}.name": product.get("name")}, f"{where}.name", required=True)
        _validate_int(errors, product, "price", 0, f"{where}.price")
        _validate_int(errors, product, "count", 1, f"{where}.count")
        image = product.get("image")
        if image is None:
            errors.add(f"{where}.image", f"The {where}.image field is required.")
        elif not _is_url(image):
            errors.add(f"{where}.image", f"The {where}.image field must be a valid URL.")
    _validate_pairs(errors, data, "data", required=False)
    if with_status and data.get("status") is not None and data["status"] not in STATUSES:
        errors.add("status", "The selected status is invalid.")
    return errors


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_HISTORY_ACTIONS = {
    "POST /api/orders/track": "track",
    "POST /api/orders/update": "update",
    "GET /api/external/orders/{external_id}": "read",
}


class OrderRepoSimulator(SimulatorServer):
    """OrderRepo: X-API-KEY + Origin checked order tracking, status reads and events."""

    name = "orderrepo"

    def __init__(
        self,
        api_key: str | None = None,
        allowed_origins: tuple[str, ...] | list[str] = ("https://shop.example.com",),
        events: dict[str, bool] | None = None,
        *,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.api_key = api_key or "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(40)
        )
        self._initial = {
            "allowed_origins": list(allowed_origins),
            "events": dict(events if events is not None else {"order_created": True}),
        }
        self.reset_state()
        self.route("POST", "/api/orders/track", self._track)
        self.route("POST", "/api/orders/update", self._update)
        self.route("GET", "/api/external/orders", self._list)
        self.route("GET", "/api/external/orders/{external_id}", self._show)
        self.route("POST", "/api/events/track", self._event)
        self.route("GET", "/orders", lambda r: Response.json(200, self.admin_orders()), admin=True)
        self.route("PUT", "/orders/{external_id}/status", self._admin_status, admin=True)
        self.route("PUT", "/settings", self._admin_settings, admin=True)
        self.route("GET", "/events", lambda r: Response.json(200, {"events": self.events()}), admin=True)
        self.route("GET", "/history", lambda r: Response.json(200, {"history": self.history()}), admin=True)

    @property
    def credentials(self) -> dict[str, Any]:
        """api_key, the origin to send and the base url."""
        return {
            "api_key": self.api_key,
            "origin": self.allowed_origins[0] if self.allowed_origins else "",
            "url": self.url if self._httpd else "",
        }

    def reset_state(self) -> None:
        """Forget orders and events; settings go back to the constructor's."""
        with self.lock:
            self._orders: dict[str, dict[str, Any]] = {}
            self._requests: dict[str, dict[str, int]] = {}
            self._events: list[dict[str, Any]] = []
            self._history: dict[str, list[list[Any]]] = {}
            self.allowed_origins = list(self._initial["allowed_origins"])
            self.event_keys = dict(self._initial["events"])
            self.monthly_limit_reached = False
            self.api_key_active = True
            self.duplicate_answer = "validation"

    # -- envelope hooks ---------------------------------------------------------------------

    def not_found(self, request: Request) -> Response:
        """Laravel's JSON 404."""
        return _message(404, f"The route {request.path.lstrip('/')} could not be found.")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Laravel's JSON 405."""
        return _message(
            405,
            f"The {request.method} method is not supported for route {request.path.lstrip('/')}."
            f" Supported methods: {', '.join(allowed)}.",
        )

    def pre_dispatch(self, request: Request) -> Response | None:
        """API key for every route, Origin for POSTs."""
        if request.route is None:
            return None
        key = request.header("X-API-KEY")
        if key is None or not key.strip():
            return _message(401, "API key missing")
        if not (self.api_key_active and hmac.compare_digest(key.strip(), self.api_key)):
            return _message(401, "Invalid API key")
        if request.method != "POST":
            return None
        origin = normalize_origin(request.header("Origin") or "")
        if origin is None:
            return _message(403, "Invalid Origin header")
        if not self._origin_allowed(origin):
            return _message(403, "Domain not allowed")
        return None

    def _origin_allowed(self, origin: str) -> bool:
        for allowed in self.allowed_origins:
            if "://" in allowed:
                if normalize_origin(allowed) == origin:
                    return True
            elif origin.split("://", 1)[1] == allowed.strip().lower():
                return True
        return False

    # -- orders -----------------------------------------------------------------------------

    def _payload(self, request: Request, action: str) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            raw = request.json()
        except (ValueError, UnicodeDecodeError):
            raw = None
        if not isinstance(raw, dict):
            return None, _message(422, "Invalid data payload")
        if isinstance(raw.get("id"), str) and raw["id"].strip():
            counts = self._requests.setdefault(raw["id"].strip(), {"track": 0, "update": 0})
            counts[action] += 1
        return raw, None

    def _track(self, request: Request) -> Response:
        raw, error = self._payload(request, "track")
        if error is not None:
            return error
        if self.monthly_limit_reached:
            return _message(402, "Monthly order limit reached for this account.")
        data = _normalize(raw)
        errors = validate_order(data, with_status=False)
        if not errors and data["id"] in self._orders:
            # The contract only says duplicates "are rejected"; the wording is switchable so the
            # connector is tested against more than one plausible answer.
            if self.duplicate_answer == "conflict":
                return _message(409, "Order already exists")
            if self.duplicate_answer == "bare":
                return Response.json(422, {"message": "Invalid data payload"})
            errors.add("id", "The id has already been taken.")
        if errors:
            return Response.json(422, {"message": "Validation error", "errors": dict(errors)})
        now = _now()
        stored = {
            "external_id": data["id"],
            "status": "new",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "payloads": [copy.deepcopy(raw)],
        }
        self._apply(stored, data)
        self._orders[data["id"]] = stored
        return Response.json(201, {"data": self._view(stored)})

    def _update(self, request: Request) -> Response:
        raw, error = self._payload(request, "update")
        if error is not None:
            return error
        data = _normalize(raw)
        errors = validate_order(data, with_status=True)
        if errors:
            return Response.json(422, {"message": "Validation error", "errors": dict(errors)})
        stored = self._orders.get(data["id"])
        if stored is None:
            return _message(404, "Order not found")
        stored["payloads"].append(copy.deepcopy(raw))
        self._apply(stored, data)
        if data.get("status"):
            self._set_status(stored, data["status"])
        stored["updated_at"] = _now()
        return Response.json(200, {"data": self._view(stored)})

    @staticmethod
    def _apply(stored: dict[str, Any], data: dict[str, Any]) -> None:
        stored.update(
            total=data["total"],
            currency=data.get("currency") or "RUB",
            email=data.get("email"),
            phone=data.get("phone"),
            username=data.get("username"),
            products=data.get("products") or [],
            data=data.get("data") or [],
        )

    @staticmethod
    def _set_status(stored: dict[str, Any], status: str) -> None:
        now = _now()
        if status != stored["status"]:
            stored["closed_at"] = now if status in CLOSED else None
        stored["status"] = status
        stored["updated_at"] = now

    @staticmethod
    def _view(stored: dict[str, Any]) -> dict[str, Any]:
        return {
            "external_id": stored["external_id"],
            "status": stored["status"],
            "total": str(stored["total"]),
            "currency": stored["currency"],
            "email": stored["email"],
            "phone": stored["phone"],
            "created_at": stored["created_at"],
            "updated_at": stored["updated_at"],
            "closed_at": stored["closed_at"],
        }

    def _list(self, request: Request) -> Response:
        errors = _Errors()
        status = request.query.get("status") or None
        if status is not None and status not in STATUSES:
            errors.add("status", "The selected status is invalid.")
        numbers = {}
        for field, default, low, high in (("per_page", 50, 1, 100), ("page", 1, 1, None)):
            value = (request.query.get(field) or "").strip()
            if not value:
                numbers[field] = default
            elif not re.fullmatch(r"-?\d+", value):
                errors.add(field, f"The {field} field must be an integer.")
            elif int(value) < low:
                errors.add(field, f"The {field} field must be at least {low}.")
            elif high is not None and int(value) > high:
                errors.add(field, f"The {field} field must not be greater than {high}.")
            else:
                numbers[field] = int(value)
        if errors:
            return Response.json(422, {"message": "Validation error", "errors": dict(errors)})
        found = [o for o in reversed(self._orders.values()) if status is None or o["status"] == status]
        per_page, page = numbers["per_page"], numbers["page"]
        chunk = found[(page - 1) * per_page : page * per_page]
        meta = {
            "current_page": page,
            "per_page": per_page,
            "total": len(found),
            "last_page": max(1, math.ceil(len(found) / per_page)),
        }
        return Response.json(200, {"data": [self._view(o) for o in chunk], "meta": meta})

    def _show(self, request: Request) -> Response:
        stored = self._orders.get(unquote(request.params["external_id"]))
        if stored is None:
            return _message(404, "Order not found")
        return Response.json(200, {"data": self._view(stored)})

    def _event(self, request: Request) -> Response:
        try:
            raw = request.json()
        except (ValueError, UnicodeDecodeError):
            raw = None
        if not isinstance(raw, dict):
            return _message(422, "Invalid data payload")
        data = _normalize(raw)
        errors = _Errors()
        _validate_string(errors, data, "event", required=True)
        _validate_pairs(errors, data, "data", required=True)
        if errors:
            return Response.json(422, {"message": "Validation error", "errors": dict(errors)})
        if data["event"] not in self.event_keys:
            return _message(401, "Invalid event key")
        if not self.event_keys[data["event"]]:
            return _message(401, "Event is not active")
        self._events.append(
            {
                "event": data["event"],
                "data": copy.deepcopy(raw["data"]),
                "received_at": _now(),
                "origin": request.header("Origin"),
            }
        )
        return Response.json(200, {"success": True})

    # -- Python admin API -------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Stored orders with every accepted payload and per-id request counts."""
        with self.lock:
            out = []
            for ext_id, stored in self._orders.items():
                counts = self._requests.get(ext_id, {"track": 0, "update": 0})
                out.append(
                    {
                        "external_id": ext_id,
                        "order": self._view(stored),
                        "payload": copy.deepcopy(stored["payloads"][-1]),
                        "payloads": copy.deepcopy(stored["payloads"]),
                        "products": copy.deepcopy(stored["products"]),
                        "track_requests": counts["track"],
                        "update_requests": counts["update"],
                    }
                )
            return out

    def order(self, external_id: str) -> dict[str, Any] | None:
        """One stored order (same shape as an orders() entry), or None."""
        return next((o for o in self.orders() if o["external_id"] == external_id), None)

    def history(self) -> dict[str, list[list[Any]]]:
        """Per order id: ``[arrived, action, status, answered]`` of every create, update and read of it."""
        with self.lock:
            return copy.deepcopy(self._history)

    def _serve(self, handler: Any, request: Request) -> None:
        """Serve as the base does, noting when the request arrived (a held request is logged when it ends)."""
        request.context["arrived"] = time.time()
        super()._serve(handler, request)

    def _record(self, request: Request, status: int | None, fault: str | None) -> None:
        """The base's request log, plus the order's history (with the status after any fault)."""
        super()._record(request, status, fault)
        action = _HISTORY_ACTIONS.get(f"{request.method} {request.route}")
        if action is None:
            return
        if action == "read":
            order_id = request.path.rsplit("/", 1)[-1]
        else:
            try:
                body = request.json()
            except (ValueError, UnicodeDecodeError):
                return
            order_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(order_id, str):
                return
        answered = time.time()
        arrived = request.context.get("arrived", answered)
        with self.lock:
            self._history.setdefault(order_id.strip(), []).append([arrived, action, status, answered])

    def requests_by_id(self) -> dict[str, dict[str, int]]:
        """Track/update request counts per id, including ids never stored."""
        with self.lock:
            return copy.deepcopy(self._requests)

    def admin_orders(self) -> dict[str, Any]:
        """What GET /__admin__/orders returns."""
        return {"orders": self.orders(), "requests_by_id": self.requests_by_id()}

    def set_order_status(self, external_id: str, status: str) -> dict[str, Any]:
        """Change an order's status as the OrderRepo user would; raises KeyError/ValueError."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        with self.lock:
            stored = self._orders[external_id]
            self._set_status(stored, status)
            return self._view(stored)

    def update_settings(
        self,
        *,
        monthly_limit_reached: bool | None = None,
        allowed_origins: list[str] | None = None,
        events: dict[str, bool] | None = None,
        api_key_active: bool | None = None,
        duplicate_answer: str | None = None,
    ) -> dict[str, Any]:
        """Change switches; ``events`` replaces the event keys. Returns the current settings.

        ``duplicate_answer``: how a create of a known id is refused: ``"validation"`` (422 with
        ``errors.id``, the default), ``"conflict"`` (409) or ``"bare"`` (422, message only).
        """
        with self.lock:
            if duplicate_answer is not None:
                if duplicate_answer not in DUPLICATE_ANSWERS:
                    raise ValueError(f"duplicate_answer must be one of {', '.join(DUPLICATE_ANSWERS)}")
                self.duplicate_answer = duplicate_answer
            if monthly_limit_reached is not None:
                self.monthly_limit_reached = bool(monthly_limit_reached)
            if allowed_origins is not None:
                self.allowed_origins = [str(o) for o in allowed_origins]
            if events is not None:
                self.event_keys = {str(k): bool(v) for k, v in events.items()}
            if api_key_active is not None:
                self.api_key_active = bool(api_key_active)
            return self.settings()

    def settings(self) -> dict[str, Any]:
        """The current switches."""
        with self.lock:
            return {
                "monthly_limit_reached": self.monthly_limit_reached,
                "allowed_origins": list(self.allowed_origins),
                "events": dict(self.event_keys),
                "api_key_active": self.api_key_active,
                "duplicate_answer": self.duplicate_answer,
            }

    def events(self) -> list[dict[str, Any]]:
        """Events received, oldest first."""
        with self.lock:
            return copy.deepcopy(self._events)

    # -- HTTP admin API ---------------------------------------------------------------------

    def _admin_status(self, request: Request) -> Response:
        try:
            body = admin_json(request, dict)
            view = self.set_order_status(unquote(request.params["external_id"]), body.get("status"))
        except KeyError:
            return admin_error("order not found", 404)
        except ValueError as exc:
            return admin_error(str(exc))
        return Response.json(200, {"data": view})

    def _admin_settings(self, request: Request) -> Response:
        try:
            body = admin_json(request, dict)
            unknown = set(body) - {"monthly_limit_reached", "allowed_origins", "events", "api_key_active"}
            if unknown:
                raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
            return Response.json(200, self.update_settings(**body))
        except (ValueError, TypeError, AttributeError) as exc:
            return admin_error(str(exc))
