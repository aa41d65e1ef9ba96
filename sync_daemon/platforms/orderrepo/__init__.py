"""OrderRepo: create, update, read status, send events (``X-API-KEY`` + ``Origin``).

Mapping rules:
- ``id`` is the WooCommerce order id with the optional ``id_prefix``; ``currency`` is the order's
  (never OrderRepo's RUB default); ``total`` and every product ``price`` are integers in the
  currency's minor units (ISO 4217 exponent, Decimal, rounded half-up — see currencies.py).
- A product's ``price`` is what the customer pays per unit (line total after coupons plus its tax,
  divided by the quantity); ``count`` must be 1 or more. Free items go out with price 0.
- Every product needs an ``image`` URL: the line item's image, else the product's image (looked up
  once per product in WooCommerce and cached), else ``fallback_image_url``; with none, the order
  is rejected with a message naming the product.
- ``data[]`` carries the configured extras as ``{name, value}`` pairs; the WooCommerce status is
  always among them, so a status change in the shop is an update here.
- ``phone`` is sent as the customer typed it (trimmed): OrderRepo is not Bangladesh-specific.
  An e-mail that is not a valid address is left out (and noted) rather than failing the order.

Answers (the contract's error table): 401 → credentials paused; 403 → Origin not allowed, paused
with the exact domain to add; 402 → monthly quota, paused for ``quota_pause_seconds``; 422 →
rejected with the validation message — except a create refused because the id exists (a crash
between send and ledger commit), which is confirmed with ``GET /api/external/orders/{id}`` and
recorded as delivered; 404 on update → create instead; 5xx/timeouts/429 → retried.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sync_daemon.config import origin_of
from sync_daemon.core import http
from sync_daemon.core.currencies import to_minor_units
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    NotApplicable,
    PermanentError,
    QuotaError,
    RetryableError,
    SyncError,
    UnmappableOrder,
)
from sync_daemon.core.order import MAX_QUANTITY, Order
from sync_daemon.platforms.base import CheckResult, MappingResult, PushResult

if TYPE_CHECKING:
    import requests

    from sync_daemon.config import OrderRepoSettings, Settings

NAME = "orderrepo"
PLATFORM = "OrderRepo"
STATUSES = ("new", "processing", "done", "cancelled")
PAGE_SIZE = 100
CUSTOMER_NOTE_LIMIT = 1000  # characters of the customer note sent in data[]
# "Valid email format" in OrderRepo's field table: the WHATWG (HTML form) definition, which is as
# strict as the platform's check. A looser test here would let OrderRepo refuse the whole order
# over an address that is better left out (a trailing dot, a space, a missing top-level label).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
DATA_LABELS = {
    "order_number": "Order number",
    "delivery_address": "Delivery address",
    "payment_method": "Payment method",
    "customer_note": "Customer note",
    "shipping_method": "Shipping method",
}

ImageLookup = Callable[[int], str | None]


def external_id(order_id: int, prefix: str) -> str:
    """OrderRepo's id for a WooCommerce order."""
    return f"{prefix}{order_id}"


def order_id_from_external(value: str, prefix: str) -> int | None:
    """The WooCommerce order id behind an OrderRepo id, or None when it is not one of ours."""
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix) :]
    return int(rest) if rest.isdigit() else None


def _data_pairs(order: Order, fields: list[str]) -> list[dict[str, str]]:
    values = {
        "order_number": order.number,
        "delivery_address": ", ".join(
            part for part in (order.delivery_address.one_line(), order.delivery_address.country) if part
        ),
        "payment_method": order.payment_method_title or order.payment_method,
        "customer_note": order.customer_note[:CUSTOMER_NOTE_LIMIT],
        "shipping_method": ", ".join(method for method in order.shipping_methods if method),
    }
    pairs = [{"name": "WooCommerce status", "value": order.status}]
    pairs += [{"name": DATA_LABELS[field], "value": values[field]} for field in fields if values.get(field)]
    return pairs


def map_order(order: Order, settings: OrderRepoSettings, image_lookup: ImageLookup | None = None) -> MappingResult:
    """OrderRepo's payload for an order; raise UnmappableOrder with the reason when impossible."""
    currency = order.currency
    products = []
    for item in order.line_items:
        if item.quantity < 1:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}; OrderRepo needs 1 or more")
        if item.quantity > MAX_QUANTITY:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}, more than {MAX_QUANTITY}")
        if item.gross_total < 0:
            raise UnmappableOrder(f"line item {item.name!r} has a negative total ({item.gross_total})")
        image = item.image_url
        if not image and item.product_id and image_lookup is not None:
            try:
                image = image_lookup(item.variation_id or item.product_id) or (
                    image_lookup(item.product_id) if item.variation_id else None
                )
            except RetryableError:
                # The shop did not answer the lookup: the fallback will do; without one the order
                # is not refused for it (the page is read again on the next poll).
                if not settings.fallback_image_url:
                    raise
        image = image or settings.fallback_image_url
        if not image:
            raise UnmappableOrder(
                f"product {item.name!r} has no image, and OrderRepo requires one for every product: "
                "give the product an image in WooCommerce or set orderrepo.fallback_image_url"
            )
        products.append(
            {
                "name": item.name,
                "price": to_minor_units(item.gross_total / Decimal(item.quantity), currency),
                "count": item.quantity,
                "image": image,
            }
        )
    total = to_minor_units(order.total, currency)
    if total < 0:
        raise UnmappableOrder(f"the order total is negative ({order.total})")
    payload: dict[str, Any] = {
        "id": external_id(order.id, settings.id_prefix),
        "total": total,
        "currency": currency,
    }
    note = None
    if order.phone:
        payload["phone"] = order.phone
    email = order.billing.email
    if email and _EMAIL.match(email):
        payload["email"] = email
    elif email:
        note = f"e-mail {email[:60]!r} is not a valid address and was left out"
    username = order.billing.full_name or order.customer_name or email
    if username:
        payload["username"] = username
    if products:
        payload["products"] = products
    pairs = _data_pairs(order, list(settings.data_fields))
    if pairs:
        payload["data"] = pairs
    return MappingResult(payload=payload, note=note)


def _message(response: requests.Response) -> str:
    body = http.json_body(response)
    if isinstance(body, dict):
        message = str(body.get("message") or "")
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            details = "; ".join(f"{field}: {' '.join(map(str, problems))}" for field, problems in errors.items())
            return f"{message} ({details})" if message else details
        if message:
            return message
    return http.body_excerpt(response)


# Answers to a create that may mean "this id exists already".
REFUSALS = (400, 409, 422)


def _is_duplicate_id(response: requests.Response) -> bool:
    body = http.json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    problems = errors.get("id") if isinstance(errors, dict) else None
    text = " ".join(map(str, problems)) if isinstance(problems, list) else str(problems or "")
    return "taken" in text.lower() or "exist" in text.lower() or "duplicate" in text.lower()


class OrderRepoClient:
    """The HTTP side of OrderRepo, shared by orders, statuses and events."""

    def __init__(self, settings: OrderRepoSettings, origin: str) -> None:
        self.settings = settings
        self.origin = origin
        self.session = http.build_session(
            headers={"Content-Type": "application/json", "X-API-KEY": settings.api_key.get_secret_value()},
            pool_size=settings.concurrency,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; POSTs carry the Origin header, as the contract requires."""
        headers = {"Origin": self.origin} if method == "POST" else {}
        return http.send(
            self.session,
            method,
            f"{self.settings.base_url}{path}",
            platform=PLATFORM,
            timeout=self.settings.timeout_seconds,
            headers=headers,
            **kwargs,
        )

    def raise_for_status(self, response: requests.Response) -> None:
        """The contract's error table as error classes."""
        status = response.status_code
        if 200 <= status < 300:
            return
        message = _message(response)
        if status == 401:
            raise AuthError(
                f"{PLATFORM} rejected the API key ({message}): check orderrepo.api_key and that the key is active "
                "— run `sync-daemon test-connection orderrepo`",
                http_status=status,
            )
        if status == 403:
            raise AuthError(
                f"{PLATFORM} refused the Origin ({message}): add {self.origin} to the OrderRepo project's domains "
                "and enable it, or set orderrepo.origin to a domain that is",
                http_status=status,
            )
        if status == 402:
            raise QuotaError(
                f"{PLATFORM}: {message or 'monthly order limit reached'} (upgrade the plan or wait "
                "for the next billing period)",
                http_status=status,
            )
        if status == 422:
            raise PermanentError(f"{PLATFORM} refused the order: {message}", http_status=status)
        http.raise_for_status(response, platform=PLATFORM, detail=message)

    def get_order(self, order_external_id: str) -> dict[str, Any] | None:
        """One order as OrderRepo has it, or None when it does not exist."""
        response = self.request("GET", f"/api/external/orders/{order_external_id}")
        if response.status_code == 404:
            return None
        self.raise_for_status(response)
        body = http.json_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise RetryableError(f"{PLATFORM}: unexpected answer reading order {order_external_id}")
        return data

    def iter_orders(self, status: str) -> Iterator[dict[str, Any]]:
        """Every order with a status, page by page (per_page 100)."""
        page = 1
        while True:
            response = self.request(
                "GET", "/api/external/orders", params={"status": status, "per_page": PAGE_SIZE, "page": page}
            )
            self.raise_for_status(response)
            body = http.json_body(response)
            rows = body.get("data") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise RetryableError(f"{PLATFORM}: unexpected answer listing {status} orders")
            yield from (row for row in rows if isinstance(row, dict))
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            last_page = meta.get("last_page")
            if not rows or len(rows) < PAGE_SIZE or (isinstance(last_page, int) and page >= last_page):
                return
            page += 1


class OrderRepoDestination:
    """Pushes orders to OrderRepo and reads their statuses back."""

    name = NAME
    section = NAME
    supports_update = True

    def __init__(self, settings: OrderRepoSettings, root: Settings | None = None) -> None:
        self.settings = settings
        shop_url = root.woocommerce.url if root is not None else ""
        self.origin = settings.origin or origin_of(shop_url)
        self.client = OrderRepoClient(settings, self.origin)
        self._images: dict[int, str | None] = {}
        self._images_lock = threading.Lock()
        self._source = None
        if root is not None and root.woocommerce.url:
            from sync_daemon.source.woocommerce import WooCommerceSource

            self._source = WooCommerceSource(root.woocommerce)

    # -- mapping --------------------------------------------------------------------------

    def product_image(self, product_id: int) -> str | None:
        """The product's first image in WooCommerce, looked up once per product and cached."""
        with self._images_lock:
            if product_id in self._images:
                return self._images[product_id]
        if self._source is None:
            return None
        try:
            image = self._source.product_image(product_id)
        except PermanentError:
            image = None  # a deleted product has no image: cache that
        except SyncError as error:
            # Transient, so not cached; map_order decides whether the fallback image will do.
            raise RetryableError(f"could not look up the image of product {product_id}: {error}") from None
        with self._images_lock:
            self._images[product_id] = image
        return image

    def map_order(self, order: Order) -> MappingResult:
        """OrderRepo's payload for an order (pure apart from the cached image lookup)."""
        return map_order(order, self.settings, self.product_image)

    # -- push -----------------------------------------------------------------------------

    def push(self, payload: dict[str, Any], *, operation: str = "create", remote_id: str | None = None) -> PushResult:
        """Create or update; a duplicate create is confirmed and recorded as delivered."""
        if operation == "update":
            response = self.client.request("POST", "/api/orders/update", json=payload)
            if response.status_code != 404:
                self.client.raise_for_status(response)
                return PushResult(remote_id=payload["id"], detail="updated")
            # OrderRepo does not know it (deleted there, or never landed): create it instead.
        response = self.client.request("POST", "/api/orders/track", json=payload)
        if response.status_code in REFUSALS:
            # The contract says only that duplicates "are rejected", not how: any refusal is checked
            # against the read endpoint, so a create whose answer was lost (crash, timeout) is
            # recognised whatever the wording, and a genuinely invalid order costs one more GET.
            existing = self.client.get_order(payload["id"])
            if existing is not None:
                update = self.client.request("POST", "/api/orders/update", json=payload)
                self.client.raise_for_status(update)
                return PushResult(remote_id=payload["id"], detail="already existed (confirmed); brought up to date")
            if _is_duplicate_id(response):
                raise RetryableError(f"{PLATFORM}: id {payload['id']} reported as taken but cannot be read yet")
        if response.status_code == 404:
            raise ConfigurationError(f"{PLATFORM}: HTTP 404 from {http.safe_url(response.url)}: is base_url right?")
        self.client.raise_for_status(response)
        return PushResult(remote_id=payload["id"], detail="created")

    # -- statuses -------------------------------------------------------------------------

    def fetch_statuses(self) -> Iterator[tuple[int, str, str | None]]:
        """(WooCommerce order id, status, updated_at) of every order of ours, via the list endpoint."""
        for status in STATUSES:
            for row in self.client.iter_orders(status):
                order_id = order_id_from_external(str(row.get("external_id", "")), self.settings.id_prefix)
                if order_id is not None:
                    yield order_id, str(row.get("status") or status), row.get("updated_at")

    def fetch_status(self, order_id: int) -> tuple[str, str | None] | None:
        """One order's (status, updated_at), or None when OrderRepo does not have it."""
        data = self.client.get_order(external_id(order_id, self.settings.id_prefix))
        return None if data is None else (str(data.get("status")), data.get("updated_at"))

    # -- connection check -----------------------------------------------------------------

    def check_connection(self) -> CheckResult:
        """The read endpoint proves the key; a deliberately invalid write proves the Origin (403 vs 422).

        The contract checks, in this order: ``X-API-KEY`` (401), then for writes the ``Origin``
        (403 "Invalid Origin header" / "Domain not allowed"), then the monthly limit (402), then the
        payload (422). ``GET /api/external/orders?per_page=1`` needs only the key, so a 200 proves it.
        ``POST /api/orders/track`` with ``{}`` lacks the required ``id`` and ``total``: it can never
        create an order, and it reaches validation (422) only after the key and the Origin passed —
        so 403 means the domain is not allowed and 422 (or 402) means it is. Redirects are not followed.
        """
        import requests

        from sync_daemon.core.diagnose import html_title, network_failure, redirect_target

        settings = self.settings
        timeout = settings.timeout_seconds
        if not self.origin:
            return CheckResult(
                NAME,
                False,
                "no Origin to send: neither orderrepo.origin nor woocommerce.url is set",
                "set orderrepo.origin to the domain added to the OrderRepo project (e.g. https://shop.example.com)",
            )

        def problem(response: requests.Response, what: str) -> CheckResult | None:
            status = response.status_code
            details: dict[str, Any] = {"http_status": status}
            if status == 401:
                return CheckResult(
                    NAME,
                    False,
                    f"{PLATFORM} rejected the API key (401 {_message(response)}): wrong key, or the key is not active",
                    "copy the key again from the OrderRepo project → API keys and check that it is active",
                    details | {"auth_rejected": True},
                )
            if 300 <= status < 400:
                target = redirect_target(response)
                return CheckResult(
                    NAME,
                    False,
                    f"{PLATFORM}: {what} redirects (HTTP {status}) to {http.safe_url(target) or 'another page'}",
                    "set orderrepo.base_url to the address the API really lives at (e.g. https://orderrepo.com)",
                    details,
                )
            if http.is_html(response):
                title = html_title(response)
                return CheckResult(
                    NAME,
                    False,
                    f"{PLATFORM}: {what} answered with an HTML page{' (“' + title + '”)' if title else ''}, not the "
                    f"API (HTTP {status})",
                    "check orderrepo.base_url (the address only, e.g. https://orderrepo.com)",
                    details,
                )
            if status in (404, 405):
                return CheckResult(
                    NAME,
                    False,
                    f"{PLATFORM}: HTTP {status} from {http.safe_url(response.url)}: there is no OrderRepo API at "
                    f"orderrepo.base_url ({settings.base_url})",
                    "orderrepo.base_url is the address only, e.g. https://orderrepo.com (the daemon adds /api/…)",
                    details,
                )
            if status == 429 or status >= 500:
                return CheckResult(
                    NAME, False, f"{PLATFORM} is unavailable (HTTP {status}: {_message(response)})", "try again later",
                    details,
                )
            return None

        try:
            read = self.client.session.get(
                f"{settings.base_url}/api/external/orders",
                params={"per_page": 1},
                timeout=timeout,
                allow_redirects=False,
            )
            wrong = problem(read, "the status endpoint")
            if wrong is not None:
                return wrong
            body = http.json_body(read)
            if read.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
                return CheckResult(
                    NAME,
                    False,
                    f"{PLATFORM}: unexpected answer from the status endpoint (HTTP {read.status_code}: "
                    f"{_message(read)})",
                    "check orderrepo.base_url",
                    {"http_status": read.status_code},
                )
            write = self.client.session.post(
                f"{settings.base_url}/api/orders/track",
                json={},
                headers={"Origin": self.origin},
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            cause, fix = network_failure(error, settings.base_url, timeout, setting="orderrepo.base_url")
            return CheckResult(NAME, False, f"{PLATFORM}: {cause}", fix)
        status = write.status_code
        if status == 403:
            message = _message(write)
            if "invalid origin" in message.lower():
                return CheckResult(
                    NAME,
                    False,
                    f"the API key works, but {PLATFORM} finds the Origin {self.origin} invalid (403 {message})",
                    "set orderrepo.origin to scheme://domain of a domain added to the project, e.g. "
                    "https://shop.example.com",
                    {"http_status": status},
                )
            return CheckResult(
                NAME,
                False,
                f"the API key works, but the domain {self.origin} is not allowed in the OrderRepo project "
                f"(403 {message})",
                f"add {self.origin} to the OrderRepo project's domains and enable it, or set orderrepo.origin to a "
                "domain that is",
                {"http_status": status, "origin": self.origin},
            )
        if status in (422, 402):
            verified = f"API key accepted; Origin {self.origin} allowed; nothing created"
            if status == 402:
                verified += (
                    f" — but the monthly order limit is reached (402 {_message(write)}): no order will be accepted "
                    "until the plan is upgraded or the next billing period starts"
                )
            return CheckResult(NAME, True, verified, details={"http_status": status, "origin": self.origin})
        wrong = problem(write, "the orders endpoint")
        if wrong is not None:
            return wrong
        return CheckResult(
            NAME,
            False,
            f"{PLATFORM}: unexpected HTTP {status} to a validation-only write: {_message(write)}",
            "check orderrepo.base_url",
            {"http_status": status},
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.client.session.close()


class OrderRepoEventDestination:
    """One order lifecycle moment sent as an OrderRepo event, once per order (a ledger row of its own)."""

    section = NAME
    supports_update = False

    def __init__(self, settings: OrderRepoSettings, root: Settings | None, moment: str) -> None:
        self.settings = settings
        self.moment = moment
        self.event_key = settings.events[moment]
        self.name = f"{NAME}-event-{moment}"
        shop_url = root.woocommerce.url if root is not None else ""
        self.client = OrderRepoClient(settings, settings.origin or origin_of(shop_url))

    def map_order(self, order: Order) -> MappingResult:
        """The event payload when the order is at this moment; NotApplicable otherwise."""
        if self.moment != "created" and order.status != self.moment:
            raise NotApplicable(f"order is {order.status}, not {self.moment}")
        data = [
            {"name": "Order id", "value": external_id(order.id, self.settings.id_prefix)},
            *_data_pairs(order, list(self.settings.data_fields)),
        ]
        return MappingResult(payload={"event": self.event_key, "data": data})

    def push(self, payload: dict[str, Any], *, operation: str = "create", remote_id: str | None = None) -> PushResult:
        """POST the event; an unknown or inactive event key pauses this event until config changes."""
        response = self.client.request("POST", "/api/events/track", json=payload)
        if response.status_code == 401 and "event" in _message(response).lower():
            raise ConfigurationError(
                f"{PLATFORM}: event key for '{self.moment}' refused ({_message(response)}): check orderrepo.events "
                "and that the event is active in the project",
                http_status=401,
            )
        self.client.raise_for_status(response)
        return PushResult(remote_id=None, detail=f"event {self.moment} sent")

    def check_connection(self) -> CheckResult:
        """Events cannot be checked without sending one; the orders check covers key and Origin."""
        return CheckResult(self.name, True, "covered by the orderrepo check")

    def close(self) -> None:
        """Close pooled connections."""
        self.client.session.close()
