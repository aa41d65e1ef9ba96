"""A WooCommerce wc/v3 REST API simulator that reproduces the real plugin's behaviour and quirks.

Authentication follows ``WC_REST_Authentication``: over plain http only one-legged OAuth 1.0a
works (params from the query string, a form body or an ``Authorization: OAuth`` header).
Checks in WooCommerce's order: consumer key -> signature (HMAC-SHA1/SHA256 over
``METHOD&rawurlencode(url)&sorted params``, each "key=value" double rawurlencoded) ->
timestamp (+-15 min) -> nonce (not reused within 15 min) -> key permission (read/write).
Repeated query keys are deduplicated last-wins, as PHP's ``$_GET`` does, so the official
client (which sends every query param twice over http) verifies. Basic auth and
``consumer_key``/``consumer_secret`` query params over http are ignored, so such requests are
anonymous and fail the route's permission check. Started with ``tls`` (a server ``ssl.SSLContext``;
the tests make a throw-away authority at run time) it serves https and, as WooCommerce over SSL, takes
Basic auth or the key pair in the query string, and ignores OAuth parameters.

Request pipeline (as WordPress): html_mode -> ``?rest_route=`` on any path -> 'Plain' permalinks
(``/wp-json/`` a 404 page) -> rest_disabled -> authentication errors -> key read/write permission
-> route match (404 ``rest_no_route``) -> parameter validation (400 ``rest_invalid_param``) -> the
route's permission check (401) -> handler. Pages carry WordPress's ``Link`` header to the REST API
(see ``wordpress.py``).

Choices where the brief was silent or where real WooCommerce differs from it:

- A read-only key writing gets real WooCommerce's answer: 401
  ``woocommerce_rest_authentication_error`` "The API key provided does not have write
  permissions." (and a write-only key reading: "... does not have read permissions.").
- Single-order routes look the order up before the permission check, as WooCommerce's
  ``*_permissions_check`` does, so an anonymous GET/PUT on an unknown id gets 404/400.
- A status change through the API adds a system note "Order status changed from X to Y."
  (author "WooCommerce") and sets ``date_completed`` when it becomes completed.
- ``storage`` is the shop's order storage, with the measured rules for ``date_modified``
  (docs: shared/design/woocommerce-facts.md). ``hpos``: every save bumps it (a REST PUT of an
  address, a phone, meta only, the same status again, ``{}``). ``posts``: a save bumps it only
  when the post row changes (status, customer note); address-, phone-, meta-only and no-op saves
  keep it. Notes never bump it; every REST PUT fires ``order.updated`` on both.
- ``writes()`` records every API write as sent: one ``status`` entry per PUT carrying a
  status (``from`` may equal ``to``), one ``meta`` entry per meta_data item, one ``note``
  entry per created note, one ``batch`` entry per ``orders/batch`` request (its items add
  their own entries, as the PUT they go through).
- ``meta_data`` items with a key and no ``id`` update the order's first meta of that key and
  drop the others of that key (``WC_Data::update_meta_data``): writing a key again replaces
  its value, it never adds a second row.
- Seeded orders are stored as given, except that dates are normalized to one-second
  "YYYY-MM-DDTHH:MM:SS" and a missing half of a date pair is derived from the other.
- ``status=any`` lists every status except ``trash``; ``orderby=title``/``slug`` sort like
  ``date``; ``orderby=include`` follows the ``include`` list. ``include``/``exclude`` filter
  by id. Pages beyond the last one return ``[]`` with the real totals. ``offset`` wins over
  ``page``, as in WP_Query and HPOS's ``OrdersTableQuery``.
- ``orderby=modified`` has no tie-breaker, as on real WooCommerce: rows sharing one modification
  second come in another order for each page (offset and size) of a query, the same on a repeat
  (``tie_seed``), so when more of them than a page exist, pages overlap and some rows are on none,
  poll after poll. ``orderby=id`` is exact.
  ``modified_after``/``modified_before`` are both strict (WP_Date_Query, not inclusive).
- ``?_fields=`` trims every successful REST answer to the keys named, as WordPress does
  (``rest_fields.py``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import math
import random
import re
import secrets
import ssl
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from . import orders as factory
from . import rest_fields, wordpress
from .base import Request, Response, SimulatorServer, admin_error, admin_json
from .woocommerce_webhooks import Webhooks

API = "/wp-json/wc/v3"
BATCH_LIMIT = 100  # items per orders/batch request (woocommerce_rest_batch_items_limit)
NONCE_WINDOW = 15 * 60
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)
STATUS_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
    "trash": "Trash",
}
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
STORAGE_MODES = ("posts", "hpos")
# On posts storage a save bumps post_modified only when the post row itself changes.
POST_ROW_FIELDS = ("status", "customer_note")
OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
# rest_parse_date(): RFC 3339 with an optional zone.
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$")
HTML_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>Shop &#8211; Just another WordPress site</title>
</head><body class="home"><header><h1>Shop</h1></header>
<main><p>Welcome to our shop!</p></main></body></html>
"""


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are)."""
    return quote(value, safe="")


def oauth_signature(method: str, url: str, params: dict[str, str], secret: str, algorithm: str) -> str:
    """The signature WC_REST_Authentication::check_oauth_signature expects."""
    pairs = [rawurlencode(f"{rawurlencode(k)}={rawurlencode(v)}") for k, v in sorted(params.items())]
    base = f"{method}&{rawurlencode(url)}&{'%26'.join(pairs)}"
    digest = hmac.new(f"{secret}&".encode(), base.encode(), getattr(hashlib, algorithm)).digest()
    return base64.b64encode(digest).decode()


def wc_error(status: int, code: str, message: str, **data: Any) -> Response:
    """A WP_Error as the REST server renders it."""
    return Response.json(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _invalid_params(errors: dict[str, str]) -> Response:
    return wc_error(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(errors)}", params=errors)


def _parse_offset(value: str | timedelta) -> timedelta:
    if isinstance(value, timedelta):
        return value
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", value)
    if not m:
        raise ValueError(f"bad UTC offset {value!r}, expected like +06:00")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return -delta if m.group(1) == "-" else delta


def _query_key(args: dict[str, Any]) -> str:
    """A list query's arguments but the page asked for."""
    return repr(sorted((k, v) for k, v in args.items() if k not in ("page", "per_page", "offset")))


def _modified_of(order: dict[str, Any]) -> str:
    return order.get("date_modified_gmt") or ""


class WooCommerceSimulator(SimulatorServer):
    """WooCommerce REST API (wc/v3 orders and notes) with OAuth 1.0a over http."""

    name = "woocommerce"
    json_content_type = "application/json; charset=UTF-8"

    def __init__(
        self,
        *,
        permission: str = "read_write",
        utc_offset: str | timedelta = "+06:00",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        storage: str = "posts",
    ) -> None:
        if permission not in ("read", "write", "read_write"):
            raise ValueError("permission must be read, write or read_write")
        if storage not in STORAGE_MODES:
            raise ValueError(f"storage must be one of {', '.join(STORAGE_MODES)}")
        super().__init__(port=port, tls=tls)
        self.permission = permission
        self.storage = storage  # which rules bump date_modified (see the module doc); webhooks may read it
        self.utc_offset = _parse_offset(utc_offset)
        self.consumer_key = "ck_" + secrets.token_hex(20)
        self.consumer_secret = "cs_" + secrets.token_hex(20)
        # Picks the order of rows sharing a modification second for each query and page; a test may set it.
        self.tie_seed = secrets.randbits(32)
        # The shop's PHP clock, which stamps date_modified, notes and writes: a test may set it ahead.
        self.clock = time.time
        self.reset_state()
        self._register_routes()
        self.webhooks = Webhooks(self, API)  # wc/v3/webhooks and signed deliveries

    @property
    def credentials(self) -> dict[str, str]:
        """consumer_key, consumer_secret, permission and the API url."""
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "permission": self.permission,
            "url": self.url if self._httpd else "",
        }

    @property
    def api_url(self) -> str:
        """The REST root, {url}/wp-json/wc/v3/."""
        return f"{self.url}{API}/"

    def reset_state(self) -> None:
        """Forget orders, notes, writes, nonces and settings."""
        with self.lock:
            self._orders: dict[int, dict[str, Any]] = {}
            self._notes: dict[int, list[dict[str, Any]]] = {}
            self._writes: list[dict[str, Any]] = []
            self._nonces: dict[str, float] = {}
            self._next_id = 1
            self._next_note_id = 1
            self._next_meta_id = 900_000_000
            self._version = 0  # bumped on every change; keys the list-query cache
            self._cache: tuple[Any, list[dict[str, Any]]] | None = None
            self.rest_disabled = False
            self.html_mode = False
            self.plain_permalinks = False  # WordPress → Settings → Permalinks: "Plain" (see wordpress.py)
            self._products: dict[int, dict[str, Any]] = {}

    def _register_routes(self) -> None:
        self.route("GET", "/wp-json", lambda request: wordpress.index(self.url))
        self.route("GET", "/wp-json/", lambda request: wordpress.index(self.url))
        self.route("GET", API, self._index)
        self.route("GET", API + "/", self._index)
        self.route("GET", API + "/orders", self._list_orders)
        self.route("GET", API + "/orders/{id:\\d+}", self._get_order)
        self.route("PUT", API + "/orders/{id:\\d+}", self._update_order)
        self.route("POST", API + "/orders/{id:\\d+}", self._update_order)
        self.route("PATCH", API + "/orders/{id:\\d+}", self._update_order)
        for method in ("POST", "PUT", "PATCH"):  # WordPress's EDITABLE methods
            self.route(method, API + "/orders/batch", self._batch_orders)
        self.route("GET", API + "/products/{id:\\d+}", self._get_product)
        self.route("GET", API + "/orders/{id:\\d+}/notes", self._list_notes)
        self.route("POST", API + "/orders/{id:\\d+}/notes", self._create_note)
        self.route("POST", "/orders", self._admin_add_orders, admin=True)
        self.route("GET", "/orders/{id:\\d+}", self._admin_get_order, admin=True)
        self.route("PATCH", "/orders/{id:\\d+}", self._admin_edit_order, admin=True)
        self.route("GET", "/writes", lambda r: Response.json(200, {"writes": self.writes()}), admin=True)
        self.route("PUT", "/settings", self._admin_settings, admin=True)

    # -- platform-style errors -------------------------------------------------------------

    def error_response(self, status: int, message: str, code: str | None = None) -> Response:
        """Errors (also injected faults) in the WP_Error envelope."""
        return wc_error(status, code or "http_error", message)

    def not_found(self, request: Request) -> Response:
        """rest_no_route under /wp-json/, WordPress's HTML 404 page elsewhere."""
        if request.path.startswith("/wp-json"):
            return wc_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        return self._page_not_found()

    def _page_not_found(self) -> Response:
        page = HTML_PAGE.replace("Welcome to our shop!", "Page not found")
        return wordpress.page(404, page, self.url, plain=self.plain_permalinks)

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """WordPress answers a wrong method with rest_no_route too."""
        return self.not_found(request)

    # -- authentication ---------------------------------------------------------------------

    def pre_dispatch(self, request: Request) -> Response | None:
        """html_mode, ?rest_route=, plain permalinks, rest_disabled, OAuth and key permissions, before routing."""
        if self.html_mode:
            return wordpress.page(200, HTML_PAGE, self.url, plain=self.plain_permalinks)
        if wordpress.take_rest_route(request):
            return self._serve_rest_route(request)
        if self.plain_permalinks and request.path.startswith("/wp-json") and not request.context.get("rest_route"):
            return self._page_not_found()  # nothing rewrites /wp-json/ to the REST API
        if not request.path.startswith("/wp-json/"):
            return None
        if self.rest_disabled:
            return self.not_found(request)
        request.context["user"] = None
        if not request.path.startswith("/wp-json/wc/"):
            return None
        error = self._authenticate(request)
        if error is not None:
            return error
        if request.context["user"]:
            need = "read" if request.method in ("GET", "HEAD") else "write"
            if need not in self.permission.split("_"):
                return wc_error(
                    401,
                    "woocommerce_rest_authentication_error",
                    f"The API key provided does not have {need} permissions.",
                )
        return None

    def _process(self, request: Request, route: Any, allowed: list[str]) -> Response:
        """Every answer, REST answers trimmed to ``?_fields=`` as WordPress does (``rest_fields.py``)."""
        response = super()._process(request, route, allowed)
        if request.path.startswith("/wp-json") and not (route is not None and route.admin):
            return rest_fields.filter_response(request, response)
        return response

    def _serve_rest_route(self, request: Request) -> Response:
        """A ``?rest_route=`` request on any path, answered as the REST request it names."""
        early = self.pre_dispatch(request)
        if early is not None:
            return early
        route, allowed = self._match(request)
        if route is None or route.admin:
            return self.method_not_allowed(request, allowed) if allowed else self.not_found(request)
        request.route = route.template
        return route.handler(request)

    def _oauth_params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_list)  # $_GET keeps the last of repeated keys
        ctype = (request.header("Content-Type") or "").lower()
        if request.method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        header = (request.header("Authorization") or "").strip()
        if header.startswith("OAuth "):
            for key, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))', header):
                params[key] = unquote((quoted or bare).replace("+", " "))
        return params

    def _authenticate(self, request: Request) -> Response | None:
        if self.tls:
            return self._authenticate_over_tls(request)
        params = self._oauth_params(request)
        missing = [name for name in OAUTH_REQUIRED if params.get(name, "") in ("", "0")]
        if len(missing) == len(OAUTH_REQUIRED):
            return None  # not even trying OAuth: anonymous
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            return wc_error(
                401,
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth {noun} {', '.join(missing)}",
            )
        if not hmac.compare_digest(params["oauth_consumer_key"], self.consumer_key):
            return self._auth_error("Consumer key is invalid.")
        given = unquote(params.pop("oauth_signature").replace(" ", "+"))
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return self._auth_error("Invalid signature - signature method is invalid.")
        algorithm = "sha1" if method == "HMAC-SHA1" else "sha256"
        # The signed URL is this server's own configured address plus the raw request path.
        expected = oauth_signature(
            request.method, self.url + request.path, params, self.consumer_secret, algorithm
        )
        if not hmac.compare_digest(expected, given):
            return self._auth_error("Invalid signature - provided signature does not match.")
        now = time.time()
        try:
            timestamp = int(float(params["oauth_timestamp"]))
        except ValueError:
            timestamp = 0
        if abs(timestamp - now) > NONCE_WINDOW:
            return self._auth_error("Invalid timestamp.")
        self._nonces = {n: t for n, t in self._nonces.items() if t >= now - NONCE_WINDOW}
        if params["oauth_nonce"] in self._nonces:
            return self._auth_error("Invalid nonce - nonce has already been used.")
        self._nonces[params["oauth_nonce"]] = now
        request.context["user"] = self.consumer_key
        return None

    def _authenticate_over_tls(self, request: Request) -> Response | None:
        """Over https WooCommerce takes Basic auth, or consumer_key/consumer_secret in the query;
        OAuth parameters are not looked at (the request is anonymous then)."""
        key = secret = None
        header = (request.header("Authorization") or "").strip()
        if header.startswith("Basic "):
            try:
                key, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return self._auth_error("Consumer key is invalid.")
        else:
            query = dict(request.query_list)
            key, secret = query.get("consumer_key"), query.get("consumer_secret")
        if not key:
            return None
        if not hmac.compare_digest(key, self.consumer_key):
            return self._auth_error("Consumer key is invalid.")
        if not hmac.compare_digest(secret or "", self.consumer_secret):
            return self._auth_error("Consumer secret is invalid.")
        request.context["user"] = self.consumer_key
        return None

    @staticmethod
    def _auth_error(message: str) -> Response:
        return wc_error(401, "woocommerce_rest_authentication_error", message)

    # -- REST routes ------------------------------------------------------------------------

    def _index(self, request: Request) -> Response:
        routes = ["/wc/v3/orders", "/wc/v3/orders/(?P<id>[\\d]+)", "/wc/v3/orders/(?P<order_id>[\\d]+)/notes"]
        return Response.json(
            200, {"namespace": "wc/v3", "routes": {r: {"namespace": "wc/v3"} for r in routes}}
        )

    def _list_orders(self, request: Request) -> Response:
        args, errors = self._list_args(request.query)
        if errors:
            return _invalid_params(errors)
        if not request.context.get("user"):
            return wc_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        found = self._query(args)
        per_page, page = args["per_page"], args["page"]
        total, pages = len(found), math.ceil(len(found) / per_page)
        start = args["offset"] if args["offset"] is not None else (page - 1) * per_page  # offset wins, as WP_Query
        chunk = self._slice(found, args, start, per_page)
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = self._page_links(request, page, pages)
        if links:
            headers["Link"] = links
        return Response.json(200, [self._render(o) for o in chunk], headers)

    def _list_args(self, query: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        errors: dict[str, str] = {}
        args: dict[str, Any] = {}
        for name, default, low, high in (("page", 1, 1, None), ("per_page", 10, 1, 100), ("offset", None, 0, None)):
            value = query.get(name)
            if value is None:
                args[name] = default
            elif not re.fullmatch(r"\s*-?\d+(\.0*)?\s*", value):
                errors[name] = f"{name} is not of type integer."
            else:
                args[name] = int(float(value))
                if high is not None and not low <= args[name] <= high:
                    errors[name] = f"{name} must be between {low} (inclusive) and {high} (inclusive)"
                elif args[name] < low:
                    errors[name] = f"{name} must be greater than or equal to {low}"
        statuses = [s.strip() for s in query.get("status", "any").split(",") if s.strip()] or ["any"]
        for i, status in enumerate(statuses):
            if status not in ("any", "trash", *ORDER_STATUSES):
                errors.setdefault(
                    "status", f"status[{i}] is not one of any, trash, {', '.join(ORDER_STATUSES)}."
                )
        args["status"] = statuses
        gmt = query.get("dates_are_gmt", "false").lower()
        if gmt not in ("true", "false", "1", "0", ""):
            errors["dates_are_gmt"] = "dates_are_gmt is not of type boolean."
        args["gmt"] = gmt in ("true", "1")
        for name in ("after", "before", "modified_after", "modified_before"):
            if name in query:
                if DATE_RE.match(query[name]):
                    args[name] = query[name]
                else:
                    errors[name] = "Invalid date."
        args["orderby"] = query.get("orderby", "date")
        if args["orderby"] not in ORDERBY:
            errors["orderby"] = f"orderby is not one of {', '.join(ORDERBY)}."
        args["order"] = query.get("order", "desc")
        if args["order"] not in ("asc", "desc"):
            errors["order"] = "order is not one of asc, desc."
        for name in ("include", "exclude"):
            ids = [p.strip() for p in query.get(name, "").split(",") if p.strip()]
            if any(not p.isdigit() for p in ids):
                errors[name] = f"{name}[0] is not of type integer."
            args[name] = [int(p) for p in ids if p.isdigit()]
        return args, errors

    def _slice(self, found: list[dict[str, Any]], args: dict[str, Any], start: int, count: int) -> list[dict[str, Any]]:
        """``found[start:start + count]``; under ``orderby=modified`` rows sharing a second come in another
        order for each LIMIT/OFFSET, as MySQL/MariaDB return them (no tie-breaker), so pages overlap."""
        end = min(start + count, len(found))
        if args["orderby"] != "modified" or start >= end:
            return found[start:end]
        # The same query and page give the same answer every time, as on the real store: a re-poll
        # does not heal a miss.
        shuffle = random.Random(f"{self.tie_seed}|{_query_key(args)}|{start}|{count}").shuffle
        low, high = start, end
        while low > 0 and _modified_of(found[low - 1]) == _modified_of(found[start]):
            low -= 1
        while high < len(found) and _modified_of(found[high]) == _modified_of(found[end - 1]):
            high += 1
        window: list[dict[str, Any]] = []
        group: list[dict[str, Any]] = []
        for order in found[low:high]:
            if group and _modified_of(order) != _modified_of(group[0]):
                shuffle(group)
                window += group
                group = []
            group.append(order)
        shuffle(group)
        window += group
        return window[start - low : end - low]

    def _bound(self, value: str) -> str:
        """WP_Date_Query: a zoned timestamp becomes store-local wall time, a plain one stays as is.

        The result is compared with the local or the GMT column, so a "Z" timestamp together with
        dates_are_gmt=true is read as local time against the GMT column: the window shifts.
        """
        moment = datetime.fromisoformat(re.sub(r"[Tt ]", "T", value, count=1).replace("z", "Z"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone(self.utc_offset)).replace(tzinfo=None)
        return factory.format_date(moment)

    def _query(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        # Paging through one query re-runs it per page; cache the result until the data changes.
        key = (self._version, _query_key(args))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        found = self._filter(args)
        reverse = args["order"] == "desc"
        orderby = args["orderby"]
        if orderby == "id":
            found.sort(key=lambda o: o["id"], reverse=reverse)
        elif orderby == "include" and args["include"]:
            position = {oid: i for i, oid in enumerate(args["include"])}
            found.sort(key=lambda o: position[o["id"]], reverse=reverse)
        else:
            col = "date_modified_gmt" if orderby == "modified" else "date_created_gmt"
            found.sort(key=lambda o: (o.get(col) or "", o["id"]), reverse=reverse)
        self._cache = (key, found)
        return found

    def _filter(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        statuses = set(args["status"])
        if "any" in statuses:
            found = [o for o in self._orders.values() if o.get("status") != "trash"]
        else:
            found = [o for o in self._orders.values() if o.get("status") in statuses]
        if args["include"]:
            include = set(args["include"])
            found = [o for o in found if o["id"] in include]
        if args["exclude"]:
            exclude = set(args["exclude"])
            found = [o for o in found if o["id"] not in exclude]
        suffix = "_gmt" if args["gmt"] else ""
        # Stored dates share one fixed format, so string order is time order.
        for name, col in (("after", "date_created"), ("modified_after", "date_modified")):
            if args.get(name):
                bound = self._bound(args[name])
                found = [o for o in found if (o.get(col + suffix) or "") > bound]
        for name, col in (("before", "date_created"), ("modified_before", "date_modified")):
            if args.get(name):
                bound = self._bound(args[name])
                found = [o for o in found if (o.get(col + suffix) or "") < bound]
        return found

    def _page_links(self, request: Request, page: int, pages: int) -> str:
        base = {k: v for k, v in request.query.items() if not k.startswith("oauth_")}
        links = []
        if page > 1:
            links.append(
                f'<{self.url}{request.path}?{urlencode({**base, "page": min(page - 1, pages)})}>; rel="prev"'
            )
        if pages > page:
            links.append(f'<{self.url}{request.path}?{urlencode({**base, "page": page + 1})}>; rel="next"')
        return ", ".join(links)

    def _render(self, order: dict[str, Any]) -> dict[str, Any]:
        oid = order["id"]
        links = {
            "self": [{"href": f"{self.url}{API}/orders/{oid}"}],
            "collection": [{"href": f"{self.url}{API}/orders"}],
        }
        if order.get("customer_id"):
            links["customer"] = [{"href": f"{self.url}{API}/customers/{order['customer_id']}"}]
        return {**order, "_links": links}

    def _get_order(self, request: Request) -> Response:
        order = self._orders.get(int(request.params["id"]))
        if order is None:
            return wc_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        if not request.context.get("user"):
            return wc_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return Response.json(200, self._render(order))

    def _get_product(self, request: Request) -> Response:
        # Products only as far as the daemon needs them: a name and images (for OrderRepo).
        product = self._products.get(int(request.params["id"]))
        if product is None:
            return wc_error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        if not request.context.get("user"):
            return wc_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return Response.json(200, copy.deepcopy(product))

    def add_product(self, product_id: int, name: str = "Product", image: str | None = None) -> dict[str, Any]:
        """Create a catalogue product with an optional image (GET products/<id> returns it)."""
        images = [{"id": product_id * 10, "src": image, "name": name, "alt": ""}] if image else []
        with self.lock:
            self._products[product_id] = {"id": product_id, "name": name, "type": "simple", "images": images}
            return copy.deepcopy(self._products[product_id])

    def _body(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        ctype = (request.header("Content-Type") or "").lower()
        if "json" in ctype or (request.body.strip()[:1] in (b"{", b"[")):
            if not request.body.strip():
                return {}, None
            try:
                data = request.json()
            except (ValueError, UnicodeDecodeError):
                return None, wc_error(
                    400,
                    "rest_invalid_json",
                    "Invalid JSON body passed.",
                    json_error_code=4,
                    json_error_message="Syntax error",
                )
            return (data if isinstance(data, dict) else {}), None
        if ctype.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)), None
        return {}, None

    def _update_order(self, request: Request) -> Response:
        body, error = self._body(request)
        if error is not None:
            return error
        return self._update_one(int(request.params["id"]), {**request.query, **body}, request)

    def _update_one(self, oid: int, params: dict[str, Any], request: Request) -> Response:
        """One order update, as PUT orders/{id} and each item of orders/batch apply it."""
        errors = {}
        if "status" in params and params["status"] not in (*ORDER_STATUSES, "trash"):
            errors["status"] = f"status is not one of {', '.join(ORDER_STATUSES)}, trash."
        meta = params.get("meta_data")
        if meta is not None and (
            not isinstance(meta, list)
            or not all(isinstance(m, dict) and isinstance(m.get("key"), str) for m in meta)
        ):
            errors["meta_data"] = "meta_data[0] is not of type object."
        if errors:
            return _invalid_params(errors)
        order = self._orders.get(oid)
        if order is None:
            # WooCommerce answers 400 (not 404) for an unknown id on update.
            return wc_error(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        if not request.context.get("user"):
            return wc_error(
                401, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."
            )
        self._apply_update(order, params)
        return Response.json(200, self._render(order))

    def _batch_orders(self, request: Request) -> Response:
        """orders/batch, updates only: each item through the single update's path, answered in order.

        As ``WC_REST_Controller::batch_items``: more than 100 items is 413 for the whole request; an
        item that fails is ``{"id", "error": {"code", "message", "data"}}`` and the others still apply.
        """
        body, error = self._body(request)
        if error is not None:
            return error
        if not request.context.get("user"):
            return wc_error(
                401, "woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."
            )
        updates = body.get("update") or []
        if not isinstance(updates, list) or not all(isinstance(item, dict) for item in updates):
            return _invalid_params({"update": "update is not of type array."})
        total = sum(len(body.get(kind) or []) for kind in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            return wc_error(413, "woocommerce_rest_request_entity_too_large",
                            f"Unable to accept more than {BATCH_LIMIT} items for this request.")
        answers = []
        for item in updates:
            oid = item.get("id")
            try:
                one = self._update_one(int(oid), {k: v for k, v in item.items() if k != "id"}, request)
            except (TypeError, ValueError):
                one = wc_error(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            answer = one.body
            if one.status >= 400:
                answer = {"id": oid, "error": {key: answer.get(key) for key in ("code", "message", "data")}}
            answers.append(answer)
        ids = [item.get("id") for item in updates]
        self._writes.append({"kind": "batch", "order_ids": ids, "time": self._now().isoformat()})
        return Response.json(200, {"update": answers})

    def _apply_update(self, order: dict[str, Any], params: dict[str, Any]) -> None:
        now = self._now()
        oid = order["id"]
        before = {name: order.get(name) for name in POST_ROW_FIELDS}
        for item in params.get("meta_data") or []:
            previous = self._set_meta(order, item)
            self._writes.append(
                {
                    "kind": "meta",
                    "order_id": oid,
                    "key": item["key"],
                    "value": item.get("value"),
                    "previous": previous,
                    "time": now.isoformat(),
                }
            )
        for name in ("customer_note", "transaction_id"):
            if isinstance(params.get(name), str):
                order[name] = params[name]
        for name in ("billing", "shipping"):
            if isinstance(params.get(name), dict):
                order[name] = {**order.get(name, {}), **params[name]}
        if "status" in params:
            old, new = order.get("status"), params["status"]
            self._writes.append(
                {"kind": "status", "order_id": oid, "from": old, "to": new, "time": now.isoformat()}
            )
            if old != new:
                order["status"] = new
                if new == "completed":
                    order["date_completed"], order["date_completed_gmt"] = factory.wc_date_pair(
                        now, self.utc_offset
                    )
                labels = STATUS_LABELS.get(old, old), STATUS_LABELS.get(new, new)
                self._add_note(
                    oid,
                    "Order status changed from {} to {}.".format(*labels),
                    False,
                    "WooCommerce",
                    now,
                )
        self._saved(order, before, now)
        self.webhooks.fire("order.updated", self._render(order))

    def _saved(self, order: dict[str, Any], before: dict[str, Any], now: datetime) -> None:
        """An order's ``save()``: under HPOS it always bumps date_modified; on posts storage only when
        the post row changed (status, customer note), not for addresses, meta or a no-op save."""
        if self.storage == "hpos" or any(order.get(name) != before.get(name) for name in POST_ROW_FIELDS):
            self._touch(order, now)
        else:
            self._version += 1

    def _set_meta(self, order: dict[str, Any], item: dict[str, Any]) -> Any:
        meta = order.setdefault("meta_data", [])
        for entry in meta:
            if (item.get("id") and entry.get("id") == item["id"]) or (
                not item.get("id") and entry["key"] == item["key"]
            ):
                previous = entry.get("value")
                entry["key"], entry["value"] = item["key"], item.get("value")
                if not item.get("id"):  # by key: the first match is updated, the rest deleted
                    meta[:] = [other for other in meta if other is entry or other["key"] != item["key"]]
                return previous
        self._next_meta_id += 1
        meta.append({"id": self._next_meta_id, "key": item["key"], "value": item.get("value")})
        return None

    def _touch(self, order: dict[str, Any], now: datetime) -> None:
        self._version += 1
        order["date_modified"], order["date_modified_gmt"] = factory.wc_date_pair(now, self.utc_offset)

    def _add_note(
        self, oid: int, text: str, customer_note: bool, author: str, now: datetime
    ) -> dict[str, Any]:
        local, gmt = factory.wc_date_pair(now, self.utc_offset)
        note = {
            "id": self._next_note_id,
            "author": author,
            "date_created": local,
            "date_created_gmt": gmt,
            "note": text,
            "customer_note": customer_note,
        }
        self._next_note_id += 1
        self._notes.setdefault(oid, []).append(note)
        return note

    def _list_notes(self, request: Request) -> Response:
        kind = request.query.get("type", "any")
        if kind not in ("any", "customer", "internal"):
            return _invalid_params({"type": "type is not one of any, customer, internal."})
        if not request.context.get("user"):
            return wc_error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        oid = int(request.params["id"])
        if oid not in self._orders:
            return wc_error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        notes = [
            n
            for n in reversed(self._notes.get(oid, []))
            if kind == "any" or n["customer_note"] == (kind == "customer")
        ]
        return Response.json(200, [self._render_note(oid, n) for n in notes])

    def _render_note(self, oid: int, note: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.url}{API}/orders/{oid}"
        return {
            **note,
            "_links": {
                "self": [{"href": f"{base}/notes/{note['id']}"}],
                "collection": [{"href": f"{base}/notes"}],
                "up": [{"href": base}],
            },
        }

    def _create_note(self, request: Request) -> Response:
        body, error = self._body(request)
        if error is not None:
            return error
        params = {**request.query, **body}
        if params.get("note") in (None, ""):
            return wc_error(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
        if not isinstance(params["note"], str):
            return _invalid_params({"note": "note is not of type string."})
        customer = params.get("customer_note", False)
        if customer not in (True, False, "true", "false", "1", "0", 1, 0):
            return _invalid_params({"customer_note": "customer_note is not of type boolean."})
        if not request.context.get("user"):
            return wc_error(
                401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."
            )
        oid = int(request.params["id"])
        order = self._orders.get(oid)
        if order is None:
            return wc_error(400, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
        now = self._now()
        author = "admin" if params.get("added_by_user") in (True, "true", "1", 1) else "WooCommerce"
        note = self._add_note(oid, params["note"], customer in (True, "true", "1", 1), author, now)
        self._writes.append(
            {
                "kind": "note",
                "order_id": oid,
                "note": note["note"],
                "customer_note": note["customer_note"],
                "time": now.isoformat(),
            }
        )
        self._version += 1  # a note is a comment: date_modified stays, on both storages
        return Response.json(201, self._render_note(oid, note))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(microsecond=0)

    # -- Python admin API -------------------------------------------------------------------

    def add_orders(self, orders: list[dict[str, Any]]) -> list[int]:
        """Store orders as given (ids assigned when missing); returns their ids."""
        ids = []
        with self.lock:
            for raw in orders:
                order = copy.deepcopy(raw)
                if not isinstance(order.get("id"), int) or order["id"] <= 0:
                    order["id"] = self._next_id
                if not (order.get("date_created_gmt") or order.get("date_created")):
                    order["date_created_gmt"] = factory.format_date(self._now())
                if not (order.get("date_modified_gmt") or order.get("date_modified")):
                    order["date_modified_gmt"] = order.get("date_created_gmt")
                    order["date_modified"] = order.get("date_created")
                factory.sync_date_pairs(
                    order, self.utc_offset, prefer_gmt=bool(order.get("date_created_gmt"))
                )
                order.setdefault("status", "processing")
                order.setdefault("meta_data", [])
                self._orders[order["id"]] = order
                self._version += 1
                self._next_id = max(self._next_id, order["id"] + 1)
                ids.append(order["id"])
                # WooCommerce fires both for a new order, ~0.15 s apart (woocommerce-facts.md).
                self.webhooks.fire("order.created", self._render(order))
                self.webhooks.fire("order.updated", self._render(order))
        return ids

    def generate_orders(
        self, n: int, seed: int = 0, start_id: int | None = None, **options: Any
    ) -> list[int]:
        """Generate and store ``n`` realistic orders (see orders.generate_orders); returns ids."""
        with self.lock:
            first = self._next_id if start_id is None else start_id
        made = factory.generate_orders(n, seed=seed, start_id=first, offset=self.utc_offset, **options)
        with self.lock:
            for order in made:  # freshly built, so no defensive copy (matters at 40 000 orders)
                self._orders[order["id"]] = order
                self._version += 1
                self._next_id = max(self._next_id, order["id"] + 1)
        return [o["id"] for o in made]

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        """A copy of the stored order, or None."""
        with self.lock:
            order = self._orders.get(order_id)
            return copy.deepcopy(order) if order is not None else None

    def order_ids(self) -> list[int]:
        """Ids of all stored orders, ascending."""
        with self.lock:
            return sorted(self._orders)

    def edit_order(self, order_id: int, *, via: str = "wp-admin", **fields: Any) -> dict[str, Any]:
        """A merchant edit: replace top-level fields; ``via`` says how it is saved. Raises KeyError.

        ``wp-admin`` (the order screen) bumps date_modified on both storages (post.php updates the
        post); ``save`` is a plugin's ``$order->save()`` and follows the storage's rules, as a REST
        PUT does. Passing date_modified(_gmt) sets it instead; changing lines without a ``total``
        recalculates the totals (the "Recalculate" button).
        """
        if via not in ("wp-admin", "save"):
            raise ValueError("via must be wp-admin or save")
        with self.lock:
            order = self._orders[order_id]
            before = {name: order.get(name) for name in POST_ROW_FIELDS}
            order.update(copy.deepcopy(fields))
            self._version += 1
            lines = ("line_items", "fee_lines", "shipping_lines")
            if any(k in fields for k in lines) and "total" not in fields:
                factory.recalculate_totals(order)
            dates = [k for k in fields if k.startswith("date_")]
            if dates:
                factory.sync_date_pairs(
                    order, self.utc_offset, prefer_gmt=not any(k in factory.DATE_PAIRS for k in dates)
                )
            if "date_modified" not in fields and "date_modified_gmt" not in fields:
                if via == "wp-admin":
                    self._touch(order, self._now())
                else:
                    self._saved(order, before, self._now())
            self.webhooks.fire("order.updated", self._render(order))
            return copy.deepcopy(order)

    def notes(self, order_id: int) -> list[dict[str, Any]]:
        """The order's notes, oldest first."""
        with self.lock:
            return copy.deepcopy(self._notes.get(order_id, []))

    def writes(self) -> list[dict[str, Any]]:
        """Every write made through the REST API, in order."""
        with self.lock:
            return copy.deepcopy(self._writes)

    def update_settings(
        self, *, rest_disabled: bool | None = None, html_mode: bool | None = None,
        plain_permalinks: bool | None = None,
    ) -> dict[str, bool]:
        """Switch rest_disabled / html_mode / plain_permalinks; returns the current settings."""
        with self.lock:
            if rest_disabled is not None:
                self.rest_disabled = bool(rest_disabled)
            if html_mode is not None:
                self.html_mode = bool(html_mode)
            if plain_permalinks is not None:
                self.plain_permalinks = bool(plain_permalinks)
            return {"rest_disabled": self.rest_disabled, "html_mode": self.html_mode,
                    "plain_permalinks": self.plain_permalinks}

    # -- HTTP admin API ---------------------------------------------------------------------

    def _admin_add_orders(self, request: Request) -> Response:
        try:
            data = admin_json(request, (list, dict))
            if isinstance(data, dict):
                n = data.get("generate")
                if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                    raise ValueError("generate must be a non-negative integer")
                ids = self.generate_orders(n, seed=int(data.get("seed", 0)), start_id=data.get("start_id"))
            else:
                if not all(isinstance(o, dict) for o in data):
                    raise ValueError("orders must be objects")
                ids = self.add_orders(data)
        except ValueError as exc:
            return admin_error(str(exc))
        return Response.json(201, {"ids": ids})

    def _admin_get_order(self, request: Request) -> Response:
        oid = int(request.params["id"])
        order = self.get_order(oid)
        if order is None:
            return admin_error("order not found", 404)
        return Response.json(200, {"order": order, "notes": self.notes(oid)})

    def _admin_edit_order(self, request: Request) -> Response:
        try:
            fields = admin_json(request, dict)
            via = request.query.get("via", "wp-admin")
            return Response.json(200, self.edit_order(int(request.params["id"]), via=via, **fields))
        except KeyError:
            return admin_error("order not found", 404)
        except ValueError as exc:
            return admin_error(str(exc))

    def _admin_settings(self, request: Request) -> Response:
        try:
            data = admin_json(request, dict)
        except ValueError as exc:
            return admin_error(str(exc))
        return Response.json(
            200,
            self.update_settings(rest_disabled=data.get("rest_disabled"), html_mode=data.get("html_mode"),
                                 plain_permalinks=data.get("plain_permalinks")),
        )
