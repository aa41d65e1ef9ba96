"""The source: WooCommerce's REST API (wc/v3), signed as the official ``woocommerce`` client signs it.

Incremental reading uses ``modified_after`` (a plain UTC timestamp with ``dates_are_gmt=true``:
a ``Z`` suffix together with that flag would silently shift the window by the store's UTC
offset), ``orderby=modified&order=asc`` and ``per_page`` ≤ 100, every status (WooCommerce's
``any``: the engine decides which orders take part).

Paging is by key, not by page number alone: after each page the window restarts at the last
modification second seen, minus one second (the filter is a strict ``>`` at one-second
granularity). Page numbers shift when an order on an earlier page is modified mid-scan (it
moves to the end and every later order moves up one place, so one would be skipped); a fresh
window never skips. Orders read twice are harmless: the ledger dedupes on id + ``date_modified_gmt``.

A page whose orders all share one second cannot be followed by page numbers: ``orderby=modified``
has no tie-breaker, and MySQL returns the rows of one second in another order on each
``LIMIT/OFFSET`` request, so pages would overlap and other orders be on none, the same ones on
every poll. That second S is then listed by a unique key, ``modified_after=S−1s&modified_before=S+1s``
(both strict) ``&orderby=id&order=asc``, with ``offset`` stepping one row short of a page so each page
starts with the last id of the one before: a page that does not means orders before it left the
second mid-scan (they are read later, modified after it) and the listing steps back rather than
skip. Then the scan goes on after S. Each second is listed once per pass, so requests stay bounded.

Requests go out over one keep-alive session (``transport.py``: Basic auth over https, OAuth 1.0a
signed URLs over http, as the official client does), without retries: a failed poll is simply
retried on the next one.

Order reads ask for the fields the daemon uses only (``_fields``, honoured by WordPress since 4.9.8):
a fraction of the bytes to send, receive and parse. A shop that ignores ``_fields`` answers whole
orders, which is fine. One that leaves out a field the daemon needs (a plugin rewriting answers)
would make wrong payloads: an answer lacking a needed key is read again whole, and when the whole
answer has what the trimmed one lacked, the source reads whole orders from then on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from sync_daemon.core import http
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError
from sync_daemon.source.shop_clock import ShopClock
from sync_daemon.source.transport import ShopTransport

if TYPE_CHECKING:
    import requests

    from sync_daemon.source.settings import WooCommerceSettings

PLATFORM = "WooCommerce"
# In strict JSON (raw control characters are refused in strings) a NUL or a lone surrogate can only come
# from one of these escapes; an answer without any holds none. A false alarm (an escaped backslash
# before "u0000", a valid surrogate pair) only costs the order-by-order check.
UNSTORABLE_ESCAPES = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]")
log = structlog.get_logger("sync_daemon.source")

# Every top-level order key the daemon reads: the order model (core.order ``Order.from_wc``, which
# platform mappings and ShopBack's extra_fields — order fields, billing./shipping.<field>,
# meta:<key> — see orders through), the ledger's dedupe key (``date_modified_gmt``) and the engine
# (``id``, ``number``, ``status``). tests/test_woocommerce_fields.py fails when a key read is missing.
ORDER_FIELDS = (
    "id",
    "number",
    "status",
    "currency",
    "date_created_gmt",
    "date_modified_gmt",
    "total",
    "total_tax",
    "shipping_total",
    "shipping_tax",
    "discount_total",
    "prices_include_tax",
    "billing",
    "shipping",
    "payment_method",
    "payment_method_title",
    "customer_note",
    "line_items",
    "fee_lines",
    "coupon_lines",
    "shipping_lines",
    "refunds",
    "meta_data",
)
FIELDS_PARAM = ",".join(ORDER_FIELDS)
BATCH_LIMIT = 100  # items per orders/batch request (WooCommerce's woocommerce_rest_batch_items_limit)


def format_gmt(moment: datetime) -> str:
    """A plain UTC timestamp without zone designator, as ``dates_are_gmt=true`` expects."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _wc_error(response: requests.Response) -> tuple[str, str]:
    body = http.json_body(response)
    if isinstance(body, dict):
        return str(body.get("code", "")), str(body.get("message", ""))
    return "", ""


class WooCommerceSource:
    """Reads orders from the shop and writes statuses and notes back."""

    def __init__(self, settings: WooCommerceSettings) -> None:
        self.settings = settings
        self.transport = ShopTransport(settings, platform=PLATFORM)
        self.trims_fields = True  # False once the shop was seen leaving out a field asked for
        # X-WP-Total of the last list read: read after a pass's first page, it is the pass's total
        # (for the progress of a long first sync); None when the shop did not say.
        self.listed_total: int | None = None
        # Whether the last order read's answer is plain: no escape that decodes to a text no ledger can
        # store (core/storable.py). One search of the answer's bytes then spares checking each order.
        self.last_answer_plain = False
        # The shop's clock as the answers to the daemon's writes show it (shop_clock.py): lets the
        # engine move a quiet shop's cursor past the orders those writes re-dated.
        self.shop_clock = ShopClock()

    def close(self) -> None:
        """Close the keep-alive connections."""
        self.transport.close()

    def _request(
        self, method: str, endpoint: str, *, params: dict[str, Any] | None = None, data: Any = None
    ) -> requests.Response:
        response = self.transport.send(method, endpoint, params=params, data=data)
        self._raise_for_status(response)
        return response

    def _read_orders(self, endpoint: str, params: dict[str, Any]) -> tuple[requests.Response, Any]:
        """(answer, decoded body) of an order read; notes the total a list answer announces."""
        response, body = self._read_trimmed(endpoint, params)
        total = response.headers.get("X-WP-Total")
        self.listed_total = int(total) if total and total.isdigit() else None
        self.last_answer_plain = not UNSTORABLE_ESCAPES.search(response.content)
        return response, body

    def _read_trimmed(self, endpoint: str, params: dict[str, Any]) -> tuple[requests.Response, Any]:
        """(answer, decoded body) of an order read, trimmed to ``ORDER_FIELDS`` while the shop honours it."""
        if not self.trims_fields:
            response = self._request("get", endpoint, params=params)
            return response, http.json_body(response)
        response = self._request("get", endpoint, params={**params, "_fields": FIELDS_PARAM})
        body = http.json_body(response)
        if not any(_lacking(order) for order in _orders_of(body)):
            return response, body
        # A needed key is missing: the order may really lack it, or the shop left it out. Only the
        # whole answer tells; it is the one used either way.
        whole_response = self._request("get", endpoint, params=params)
        whole = http.json_body(whole_response)
        dropped = _dropped(body, whole)
        if dropped:
            self.trims_fields = False
            log.warning(
                "the shop leaves out order fields asked for with _fields; reading whole orders from now on",
                fields=sorted(dropped),
            )
        return whole_response, whole

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            if http.is_html(response):
                raise RetryableError(
                    f"{PLATFORM}: got an HTML page instead of JSON — a security plugin, a maintenance page "
                    "or a wrong shop URL is in the way"
                )
            return
        code, message = _wc_error(response)  # only now: a page of orders is not parsed twice
        if status == 404 and code == "rest_no_route":
            raise ConfigurationError(
                f"{PLATFORM}: the REST API route was not found (404 rest_no_route) — is WooCommerce active and "
                "are permalinks set to anything but 'Plain'?",
                http_status=status,
            )
        if status in (401, 403):
            raise AuthError(
                f"{PLATFORM}: credentials rejected (HTTP {status} {code}: {message}) — check the consumer key "
                "and secret, and that the key has the needed permission",
                http_status=status,
            )
        if http.is_html(response):
            raise RetryableError(f"{PLATFORM}: HTTP {status} with an HTML page instead of JSON", http_status=status)
        if status in (400, 404):
            raise PermanentError(f"{PLATFORM}: HTTP {status} {code}: {message}", http_status=status)
        http.raise_for_status(response, platform=PLATFORM, detail=f"{code}: {message}".strip(": "))

    def _list_params(self, modified_after: datetime, page: int) -> dict[str, Any]:
        return {
            "modified_after": format_gmt(modified_after),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": self.settings.per_page,
            "page": page,
            # No status filter: orders already synced are followed into any status (cancelled,
            # completed, …); the engine leaves out unknown orders of statuses that are not synced.
        }

    def _second_params(self, second: datetime, offset: int) -> dict[str, Any]:
        # Both bounds are strict (WP_Date_Query), so S−1 s … S+1 s is exactly the second S.
        return {
            "modified_after": format_gmt(second - timedelta(seconds=1)),
            "modified_before": format_gmt(second + timedelta(seconds=1)),
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
            "per_page": self._second_page_size(),
            "offset": offset,
        }

    def _second_page_size(self) -> int:
        return max(2, self.settings.per_page)  # consecutive pages overlap by one row

    def _list(self, params: dict[str, Any]) -> tuple[requests.Response, list[Any]]:
        response, orders = self._read_orders("orders", params)
        if not isinstance(orders, list):
            raise RetryableError(f"{PLATFORM}: the orders list is not a JSON list")
        return response, orders

    def iter_pages(self, modified_after: datetime) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw orders modified after the given moment, oldest first (see module doc)."""
        window_start = modified_after
        page = 1
        while True:
            response, orders = self._list(self._list_params(window_start, page))
            yield orders
            total_pages = int(response.headers.get("X-WP-TotalPages") or 1)
            if not orders or page >= total_pages:
                return
            # An order without a usable date (a plugin dropped it, WordPress's zero date) does not
            # move the window; the engine rejects it with the reason.
            dated = [moment for moment in map(_modified, orders) if moment is not None]
            if not dated:
                page += 1
            elif min(dated) < max(dated):
                window_start, page = max(dated) - timedelta(seconds=1), 1
            else:
                # A whole page in one second: its rows come in another order on each request, so
                # page numbers would lose some. That second is listed by id, then the scan goes on after it.
                yield from self._iter_second(dated[0])
                window_start, page = dated[0], 1

    def _iter_second(self, second: datetime) -> Iterator[list[dict[str, Any]]]:
        """Pages of every order modified within one second, by id (a unique key), each row once."""
        per_page = self._second_page_size()
        offset, last_id = 0, None
        while True:
            _, orders = self._list(self._second_params(second, offset))
            ids = [order["id"] for order in orders if isinstance(order, dict) and isinstance(order.get("id"), int)]
            if offset and (not ids or ids[0] > last_id):
                # The page no longer starts with the last row of the one before: rows before it left
                # this second (edited meanwhile, so the scan after it reads them) and the rest moved
                # up. Step back until the pages overlap again; nothing between is skipped.
                offset = max(0, offset - (per_page - 1))
                continue
            yield [order for order in orders if not (isinstance(order, dict) and order.get("id") == last_id)]
            if len(orders) < per_page:
                return
            if not ids or (last_id is not None and ids[-1] <= last_id):
                raise RetryableError(
                    f"{PLATFORM}: listing orders by id with offset= returned no new order — the shop "
                    "ignores offset, so more orders than a page modified in one second cannot be read"
                )
            last_id = ids[-1]
            offset += per_page - 1

    def get_order(self, order_id: int) -> dict[str, Any]:
        """One order by id; a missing order raises PermanentError."""
        _, body = self._read_orders(f"orders/{int(order_id)}", {})
        if not isinstance(body, dict):
            raise RetryableError(f"{PLATFORM}: order {order_id} is not a JSON object")
        return body

    def get_orders(self, order_ids: list[int]) -> list[dict[str, Any]]:
        """Up to 100 orders by id in one request (``include=``); ids the shop does not have are left out."""
        ids = sorted({int(order_id) for order_id in order_ids})[:100]
        if not ids:
            return []
        params = {"include": ",".join(map(str, ids)), "per_page": 100, "orderby": "include", "order": "asc"}
        _, body = self._read_orders("orders", params)
        if not isinstance(body, list):
            raise RetryableError(f"{PLATFORM}: the orders list is not a JSON list")
        return [raw for raw in body if isinstance(raw, dict)]

    def update_order(self, order_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """PUT changes (status, meta_data) to an order."""
        body = http.json_body(self._request("put", f"orders/{int(order_id)}", data=data))
        self.shop_clock.note([body])
        return body

    def add_note(self, order_id: int, note: str, *, customer_note: bool = False) -> dict[str, Any]:
        """Add a private (or customer) note to an order."""
        data = {"note": note, "customer_note": customer_note}
        return http.json_body(self._request("post", f"orders/{int(order_id)}/notes", data=data))

    def product_image(self, product_id: int) -> str | None:
        """The first image URL of a product (or variation's parent), or None when it has none."""
        body = http.json_body(self._request("get", f"products/{int(product_id)}"))
        images = body.get("images") if isinstance(body, dict) else None
        if isinstance(body, dict) and isinstance(body.get("image"), dict):  # a variation has one image
            images = [body["image"]]
        if isinstance(images, list) and images and isinstance(images[0], dict):
            source = images[0].get("src")
            return source if isinstance(source, str) and source else None
        return None

    def probe(self) -> requests.Response:
        """The cheapest authenticated read (one order), for connection checks."""
        return self._request("get", "orders", params={"per_page": 1})

    def update_orders_batch(self, updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Up to ``BATCH_LIMIT`` order updates (``{"id": …, "meta_data": […]}``) in one request.

        Returns WooCommerce's answer per update, in order: the updated order, or ``{"id": …, "error":
        {"code", "message", "data"}}`` for one it refused (the others are applied all the same).
        """
        if len(updates) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} updates per batch, got {len(updates)}")
        body = http.json_body(self._request("post", "orders/batch", data={"update": updates}))
        answers = body.get("update") if isinstance(body, dict) else None
        if not isinstance(answers, list):
            raise RetryableError(f"{PLATFORM}: the batch answer has no list of updates")
        self.shop_clock.note(answers)
        return [answer if isinstance(answer, dict) else {} for answer in answers]

    def order_notes(self, order_id: int) -> list[dict[str, Any]]:
        """The notes of an order, newest first (WooCommerce answers them all, unpaged)."""
        body = http.json_body(self._request("get", f"orders/{int(order_id)}/notes"))
        return [note for note in body if isinstance(note, dict)] if isinstance(body, list) else []


def _orders_of(body: Any) -> list[dict[str, Any]]:
    """The orders of a list or single-order answer (anything else: none)."""
    if isinstance(body, dict):
        return [body]
    return [order for order in body if isinstance(order, dict)] if isinstance(body, list) else []


def _lacking(order: dict[str, Any]) -> set[str]:
    """The needed keys an order's answer does not have."""
    return {key for key in ORDER_FIELDS if key not in order}


def _dropped(trimmed: Any, whole: Any) -> set[str]:
    """Needed keys the trimmed answer left out while the whole answer has them for the same order."""
    whole_by_id = {order.get("id"): order for order in _orders_of(whole)}
    dropped: set[str] = set()
    for order in _orders_of(trimmed):
        lacking = _lacking(order)
        if not lacking:
            continue
        if "id" not in order:  # nothing to pair it with: any whole order having the key tells
            dropped |= {key for key in lacking if any(key in other for other in whole_by_id.values())}
        elif order["id"] in whole_by_id:  # (an order edited between the reads may have moved away)
            dropped |= {key for key in lacking if key in whole_by_id[order["id"]]}
    return dropped


def _modified(order: Any) -> datetime | None:
    value = order.get("date_modified_gmt") if isinstance(order, dict) else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# -- connection-check probes (used by connection.py) ----------------------------------------------


def probe_response(source: WooCommerceSource, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
    """One authenticated request exactly as the daemon signs it, answered raw, redirects not followed.

    For ``test-connection``, which reads every answer itself: requests' exceptions are not
    translated either, so the caller can tell TLS problems, DNS failures and timeouts apart.
    ``put`` needs ``data=``; ``get`` takes ``params=``.
    """
    return source.transport.send_raw(method, endpoint, allow_redirects=False, **kwargs)
