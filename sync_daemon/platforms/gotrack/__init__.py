"""GoTrack.bd: ``POST /api/v1/orders`` with HTTP Basic auth, idempotent by external_order_id.

Mapping rules (GoTrack computes ``total_selling_price`` = Σ quantity × selling_price +
delivery_charge + cod_charge, and requires quantity > 0 and selling_price > 0):

- A line's ``selling_price`` is what the customer pays per unit: the line total after coupon
  discounts plus its tax, divided by the quantity. When that does not come out in whole paisa
  (100 / 3), the line is split in two lines of the same name (2 × 33.33 + 1 × 33.34) so the sum
  stays exact.
- ``delivery_charge`` is shipping plus shipping tax; fees whose name matches ``cod_fee_pattern``
  become ``cod_charge``; other positive fees become a line of their own (quantity 1).
- Zero-priced items (free gifts) cannot be sent (price must be > 0): by default they are left out
  and the ledger notes which; ``zero_price_items = "reject"`` rejects the order instead.
- A negative fee (a discount booked as a fee) cannot be expressed: the order is rejected.
- GoTrack's order has no currency field: it collects cash on delivery in Bangladeshi taka. An
  order in any other currency is rejected rather than sent with its amounts read as taka.
- Finally the total GoTrack will compute is compared with WooCommerce's; any difference rejects
  the order with both figures, rather than sending a wrong total.

GoTrack has no update endpoint: an order edited after delivery is noted in the ledger, not sent.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from requests.auth import HTTPBasicAuth

from sync_daemon.core import http
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError, UnmappableOrder
from sync_daemon.core.order import MAX_QUANTITY, Order
from sync_daemon.core.phones import normalise_bd_mobile
from sync_daemon.platforms.base import CheckResult, MappingResult, PushResult

if TYPE_CHECKING:
    from sync_daemon.config import GoTrackSettings, Settings

NAME = "gotrack"
PLATFORM = "GoTrack"
CURRENCY = "BDT"
CENT = Decimal("0.01")
ZERO = Decimal("0")


def json_number(amount: Decimal) -> int | float:
    """A JSON number for a money Decimal (floats print their shortest exact repr: 33.33 stays 33.33)."""
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)
    if Decimal(repr(number)) != amount:  # pragma: no cover - only for amounts beyond 15 digits
        raise UnmappableOrder(f"amount {amount} cannot be sent as a JSON number exactly")
    return number


def _split_line(name: str, quantity: int, gross: Decimal) -> list[dict[str, Any]]:
    """One or two lines whose quantity × price adds up to ``gross`` exactly, in paisa."""
    unit = (gross / quantity).quantize(CENT, rounding=ROUND_DOWN)
    if unit * quantity == gross:
        return [{"name": name, "quantity": quantity, "selling_price": json_number(unit)}]
    last = gross - unit * (quantity - 1)
    if unit <= ZERO:
        raise UnmappableOrder(f"line item {name!r}: {gross} over {quantity} units is less than 0.01 each")
    return [
        {"name": name, "quantity": quantity - 1, "selling_price": json_number(unit)},
        {"name": name, "quantity": 1, "selling_price": json_number(last)},
    ]


def map_order(order: Order, settings: GoTrackSettings) -> MappingResult:
    """GoTrack's payload for an order; raise UnmappableOrder with the reason when impossible."""
    if order.currency != CURRENCY:
        raise UnmappableOrder(
            f"the order is in {order.currency}; GoTrack takes amounts in Bangladeshi taka ({CURRENCY}) only"
        )
    phone = normalise_bd_mobile(order.phone, settings.phone_format)
    lines: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in order.line_items:
        if item.quantity <= 0:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}; GoTrack needs more than 0")
        if item.quantity > MAX_QUANTITY:
            raise UnmappableOrder(f"line item {item.name!r} has quantity {item.quantity}, more than {MAX_QUANTITY}")
        gross = item.gross_total
        if gross < ZERO:
            raise UnmappableOrder(f"line item {item.name!r} has a negative total ({gross})")
        if gross == ZERO:
            if settings.zero_price_items == "reject":
                raise UnmappableOrder(f"line item {item.name!r} is free; GoTrack needs a selling price above 0")
            skipped.append(f"{item.quantity} × {item.name}")
            continue
        lines.extend(_split_line(item.name, item.quantity, gross))
    if not lines:
        raise UnmappableOrder("the order has no product with a price above 0 (GoTrack needs at least one)")
    cod_pattern = re.compile(settings.cod_fee_pattern)
    cod_charge = ZERO
    for fee in order.fee_lines:
        gross = fee.gross_total
        if gross < ZERO:
            raise UnmappableOrder(
                f"fee {fee.name!r} is negative ({gross}); GoTrack has no discount field, so its total would be wrong"
            )
        if gross == ZERO:
            continue
        if cod_pattern.search(fee.name):
            cod_charge += gross
        else:
            lines.append({"name": fee.name, "quantity": 1, "selling_price": json_number(gross)})
    delivery_charge = order.shipping_gross
    if delivery_charge < ZERO:
        raise UnmappableOrder(f"shipping is negative ({delivery_charge})")
    computed = sum((Decimal(repr(line["selling_price"])) * line["quantity"] for line in lines), ZERO)
    computed += delivery_charge + cod_charge
    if computed != order.total:
        raise UnmappableOrder(
            f"GoTrack would compute a total of {computed} but the WooCommerce order total is {order.total}; "
            "not sent, to avoid a wrong cash-on-delivery amount"
        )
    customer: dict[str, Any] = {"phone": phone}
    if order.customer_name:
        customer["name"] = order.customer_name
    address = order.delivery_address.one_line()
    if address:
        customer["address"] = address
    payload = {
        "external_source": settings.external_source,
        "external_order_id": str(order.id),
        "customer": customer,
        "line_items": lines,
        "delivery_charge": json_number(delivery_charge),
        "cod_charge": json_number(cod_charge),
    }
    note = f"left out free item(s): {', '.join(skipped)}" if skipped else None
    return MappingResult(payload=payload, note=note)


def _error_message(response: Any) -> str:
    body = http.json_body(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    return http.body_excerpt(response)


class GoTrackDestination:
    """Pushes orders to GoTrack.bd."""

    name = NAME
    section = NAME
    supports_update = False

    def __init__(self, settings: GoTrackSettings, root: Settings | None = None) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        auth = HTTPBasicAuth(settings.api_key.get_secret_value(), settings.api_secret.get_secret_value())
        self.session = http.build_session(
            headers={"Content-Type": "application/json"}, auth=auth, pool_size=settings.concurrency
        )

    def map_order(self, order: Order) -> MappingResult:
        """GoTrack's payload for an order (pure; see ``map_order``)."""
        return map_order(order, self.settings)

    def push(self, payload: dict[str, Any], *, operation: str = "create", remote_id: str | None = None) -> PushResult:
        """POST the order; a replay of a known external_order_id answers 200 idempotent."""
        response = http.send(
            self.session, "POST", self.endpoint, platform=PLATFORM, timeout=self.settings.timeout_seconds, json=payload
        )
        self._raise_for_status(response)
        body = http.json_body(response)
        if not isinstance(body, dict) or body.get("ok") is not True or not isinstance(body.get("order"), dict):
            if http.is_html(response):
                raise RetryableError(f"{PLATFORM}: answered with an HTML page, not JSON (is the endpoint URL right?)")
            raise RetryableError(f"{PLATFORM}: unexpected answer: {http.body_excerpt(response)}")
        remote_id = body["order"].get("id")
        detail = "already existed (idempotent replay)" if body.get("idempotent") else "created"
        return PushResult(remote_id=None if remote_id is None else str(remote_id), detail=detail)

    def _raise_for_status(self, response: Any) -> None:
        status = response.status_code
        if status in (200, 201):
            return
        message = _error_message(response)
        if status == 401:
            raise AuthError(
                f"{PLATFORM} rejected the API key/secret ({message}); credentials rejected — "
                "run `sync-daemon test-connection gotrack`",
                http_status=status,
            )
        if status in (404, 405):
            raise ConfigurationError(
                f"{PLATFORM}: HTTP {status} from {http.safe_url(self.endpoint)}: the endpoint URL looks wrong "
                "(copy it from GoTrack → Settings → API)",
                http_status=status,
            )
        if status in (400, 422):
            raise PermanentError(f"{PLATFORM} refused the order: {message}", http_status=status)
        http.raise_for_status(response, platform=PLATFORM, detail=message)

    def check_connection(self) -> CheckResult:
        """Prove the key/secret with a request GoTrack must refuse — for validation, after authentication.

        The reasoning, from the contract (``shared/seeds/000_…``):

        - Every request is authenticated first: HTTP Basic with the API key and secret, answered
          401 ``unauthorized`` "Invalid API key/secret" when they are wrong. Only an authenticated
          request reaches the body, whose errors are 400 ``bad_request`` (a required field is
          missing) and 422 ``validation_failed``. (GoTrack is a Laravel app: its auth middleware
          runs before the controller validates; the simulator does the same.)
        - The probe is ``POST`` of an empty JSON object to the order endpoint. ``customer.phone``
          and ``line_items`` are documented as required, so no conforming server can create an
          order from it, and it carries no ``external_order_id``, so it cannot touch an idempotency
          record either. The only possible answers are 401 (credentials refused) or 400/422
          (credentials accepted, body refused).
        - Hence: 401 → the key/secret pair is wrong; 400/422 → it was accepted and nothing was
          created. 404/405 or an HTML page say the URL is not the order endpoint; 5xx that GoTrack
          is unwell. A 2xx would mean the URL is not GoTrack's API (it cannot accept that body).
        - Redirects are not followed: a redirected POST turns into a GET elsewhere and would prove
          nothing (and would carry the credentials to another place).
        """
        import requests

        from sync_daemon.config import origin_of
        from sync_daemon.core.diagnose import html_title, network_failure, redirect_target, url_path

        timeout = self.settings.timeout_seconds
        try:
            response = self.session.post(self.endpoint, json={}, timeout=timeout, allow_redirects=False)
        except requests.RequestException as error:
            cause, fix = network_failure(error, self.endpoint, timeout, setting="gotrack.endpoint")
            return CheckResult(NAME, False, f"{PLATFORM}: {cause}", fix)
        status = response.status_code
        details: dict[str, Any] = {"http_status": status}
        body = http.json_body(response)
        if status in (400, 422) and isinstance(body, dict) and not http.is_html(response):
            return CheckResult(
                NAME,
                True,
                f"API key and secret accepted (an empty order was refused with {status}, as it must be after "
                "authentication; nothing created)",
                details=details,
            )
        if status == 401:
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM} rejected the API key/secret (401 {_error_message(response)})",
                "copy both again from GoTrack → Settings → API (click Show before copying the secret, or use the "
                "Copy buttons); Regenerate Key & Secret invalidates the old pair at once",
                details | {"auth_rejected": True},
            )
        path = url_path(self.endpoint) or "/"
        expected = f"{origin_of(self.endpoint)}/api/v1/orders"
        if 300 <= status < 400:
            target = redirect_target(response)
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM}: the endpoint redirects (HTTP {status}) to {http.safe_url(target) or 'another page'}",
                "set gotrack.endpoint to the Endpoint URL exactly as GoTrack → Settings → API shows it",
                details,
            )
        if status in (404, 405):
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM}: HTTP {status} from {http.safe_url(self.endpoint)}: the endpoint URL has a wrong path "
                f"({path})",
                f"use the Endpoint URL from GoTrack → Settings → API; it ends in /api/v1/orders (e.g. {expected})",
                details,
            )
        if http.is_html(response):
            title = html_title(response)
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM}: the endpoint answered with an HTML page{' (“' + title + '”)' if title else ''}, "
                f"not the API (HTTP {status})",
                "check gotrack.endpoint: it is the Endpoint URL from GoTrack → Settings → API",
                details,
            )
        if status == 429:
            return CheckResult(NAME, False, f"{PLATFORM} is rate-limiting this server (429)", "try later", details)
        if status >= 500:
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM} is having problems (HTTP {status}: {_error_message(response)})",
                "try again later",
                details,
            )
        if 200 <= status < 300:
            return CheckResult(
                NAME,
                False,
                f"{PLATFORM}: the endpoint accepted an empty order (HTTP {status}); it does not behave like "
                "GoTrack's order API",
                "check gotrack.endpoint",
                details,
            )
        return CheckResult(
            NAME,
            False,
            f"{PLATFORM}: unexpected HTTP {status} from the endpoint: {_error_message(response)}",
            "check gotrack.endpoint (it ends in /api/v1/orders)",
            details,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
