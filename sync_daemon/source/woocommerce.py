"""The source: WooCommerce's REST API (wc/v3) through the official ``woocommerce`` client.

Incremental reading uses ``modified_after`` (a plain UTC timestamp with ``dates_are_gmt=true``:
a ``Z`` suffix together with that flag would silently shift the window by the store's UTC
offset), ``orderby=modified&order=asc`` and ``per_page`` ≤ 100, every status (WooCommerce's
``any``: the engine decides which orders take part).

Paging is by key, not by page number alone: after each page the window restarts at the last
modification second seen, minus one second (the filter is a strict ``>`` at one-second
granularity). Page numbers shift when an order on an earlier page is modified mid-scan (it
moves to the end and every later order moves up one place, so one would be skipped); a fresh
window never skips. Only when a whole page shares one second does it step to the next page
number within the same window, following ``X-WP-TotalPages``. Orders read twice are harmless:
the ledger dedupes on id + ``date_modified_gmt``.

The client has no session and no retries; each call is one request, and a failed poll is
simply retried on the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from woocommerce import API

from sync_daemon import __version__
from sync_daemon.core import http
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError

if TYPE_CHECKING:
    import requests

    from sync_daemon.source.settings import WooCommerceSettings

PLATFORM = "WooCommerce"


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
        self.api = API(
            url=settings.url,
            consumer_key=settings.consumer_key.get_secret_value(),
            consumer_secret=settings.consumer_secret.get_secret_value(),
            version="wc/v3",
            timeout=settings.timeout_seconds,
            verify_ssl=settings.verify_tls,
            user_agent=f"sync-daemon/{__version__}",
        )

    def _request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
        url = f"{self.settings.url}/wp-json/wc/v3/{endpoint}"
        with http.network_errors(PLATFORM, url, self.settings.timeout_seconds):
            response = getattr(self.api, method)(endpoint, **kwargs)
        self._raise_for_status(response)
        return response

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

    def iter_pages(self, modified_after: datetime) -> Iterator[list[dict[str, Any]]]:
        """Pages of raw orders modified after the given moment, oldest first (see module doc)."""
        window_start = modified_after
        page = 1
        while True:
            response = self._request("get", "orders", params=self._list_params(window_start, page))
            orders = http.json_body(response)
            if not isinstance(orders, list):
                raise RetryableError(f"{PLATFORM}: the orders list is not a JSON list")
            yield orders
            total_pages = int(response.headers.get("X-WP-TotalPages") or 1)
            if not orders or page >= total_pages:
                return
            # An order without a usable date (a plugin dropped it, WordPress's zero date) does not
            # move the window; the engine rejects it with the reason.
            last_seen = max((moment for moment in map(_modified, orders) if moment is not None), default=None)
            next_start = last_seen - timedelta(seconds=1) if last_seen else window_start
            if next_start > window_start:
                window_start, page = next_start, 1
            else:
                page += 1

    def get_order(self, order_id: int) -> dict[str, Any]:
        """One order by id; a missing order raises PermanentError."""
        body = http.json_body(self._request("get", f"orders/{int(order_id)}"))
        if not isinstance(body, dict):
            raise RetryableError(f"{PLATFORM}: order {order_id} is not a JSON object")
        return body

    def update_order(self, order_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """PUT changes (status, meta_data) to an order."""
        return http.json_body(self._request("put", f"orders/{int(order_id)}", data=data))

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
    return getattr(source.api, method)(endpoint, allow_redirects=False, **kwargs)
