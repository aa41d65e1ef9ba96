"""OrderRepo's HTTP side: orders created and updated with ``X-API-KEY`` + ``Origin``.

Answers (the contract's error table): 401 → credentials paused; 403 → Origin not allowed, paused
with the exact domain to add; 402 → monthly quota, paused for ``quota_pause_seconds``; 422 →
rejected with the validation message — except a create refused because the id exists (a crash
between send and ledger commit), which is confirmed with ``GET /api/external/orders/{id}`` and
recorded as delivered; 404 on update → create instead; 5xx/timeouts/429 → retried.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sync_daemon.core import http
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    PermanentError,
    QuotaError,
    RetryableError,
    RetryAsUpdate,
    SyncError,
)
from sync_daemon.core.order import Order
from sync_daemon.platforms.base import MappingResult, PushResult, ShopContext

if TYPE_CHECKING:
    import requests

from sync_daemon.platforms.orderrepo.mapping import map_order
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings

STATUSES = ("new", "processing", "done", "cancelled")


PAGE_SIZE = 100



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



def origin_for(settings: OrderRepoSettings, shop: ShopContext) -> str:
    """The Origin header: the configured domain, else the shop's own origin."""
    return settings.origin or shop.origin


class OrderRepoClient:
    """The HTTP side of OrderRepo, shared by orders, statuses and events."""

    def __init__(self, settings: OrderRepoSettings, origin: str) -> None:
        self.settings = settings
        self.origin = origin
        self.gate = http.SendGate()  # closed by a 429 for every worker thread at once
        self.session = http.build_session(
            headers={"Content-Type": "application/json", "X-API-KEY": settings.api_key.get_secret_value()},
            pool_size=settings.concurrency,
            ca_bundle=settings.ca_bundle,
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
            gate=self.gate,
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

    def iter_orders(self, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Every order (only those with ``status`` when given), page by page (per_page 100)."""
        page = 1
        filters = {"status": status} if status else {}
        while True:
            response = self.request(
                "GET", "/api/external/orders", params={**filters, "per_page": PAGE_SIZE, "page": page}
            )
            self.raise_for_status(response)
            body = http.json_body(response)
            rows = body.get("data") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise RetryableError(f"{PLATFORM}: unexpected answer listing {status or 'the'} orders")
            yield from (row for row in rows if isinstance(row, dict))
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            last_page = meta.get("last_page")
            if not rows or len(rows) < PAGE_SIZE or (isinstance(last_page, int) and page >= last_page):
                return
            page += 1


class OrderRepoDestination:
    """Pushes orders to OrderRepo (create, update once per change)."""

    name = NAME
    section = NAME
    supports_update = True

    def __init__(self, settings: OrderRepoSettings, shop: ShopContext) -> None:
        self.settings = settings
        self.concurrency = settings.concurrency
        self.origin = origin_for(settings, shop)
        self.client = OrderRepoClient(settings, self.origin)
        self._product_image = shop.product_image

    def map_order(self, order: Order) -> MappingResult:
        """OrderRepo's payload for an order (the shop context looks product images up, cached)."""
        return map_order(order, self.settings, self._product_image)

    # -- push -----------------------------------------------------------------------------

    def push(
        self, payload: Mapping[str, Any], *, operation: str = "create", remote_id: str | None = None
    ) -> PushResult:
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
            recovered = self._recover(payload, duplicate=_is_duplicate_id(response))
            if recovered is not None:
                return recovered
        if response.status_code == 404:
            raise ConfigurationError(f"{PLATFORM}: HTTP 404 from {http.safe_url(response.url)}: is base_url right?")
        self.client.raise_for_status(response)
        return PushResult(remote_id=payload["id"], detail="created")

    def _recover(self, payload: Mapping[str, Any], *, duplicate: bool) -> PushResult | None:
        """A refused create: confirm the order exists and bring it up to date (None: it does not exist).

        Once OrderRepo is known to hold the order (its refusal named the id as taken, or the read
        found it), a step that fails raises ``RetryAsUpdate`` around its error: the next attempt
        updates instead of sending the create again. A genuinely invalid order goes on to its refusal.
        """
        order_id = str(payload["id"])
        try:
            existing = self.client.get_order(order_id)
        except PermanentError:
            raise
        except SyncError as error:
            if duplicate:
                raise RetryAsUpdate(f"{error} (the id is taken: retried as an update)", remote_id=order_id,
                                    http_status=error.http_status) from error
            raise
        if existing is None:
            if duplicate:
                raise RetryableError(f"{PLATFORM}: id {order_id} reported as taken but cannot be read yet")
            return None
        try:
            update = self.client.request("POST", "/api/orders/update", json=payload)
            self.client.raise_for_status(update)
        except PermanentError:
            raise
        except SyncError as error:
            raise RetryAsUpdate(f"{error} (the order exists: retried as an update)", remote_id=order_id,
                                http_status=error.http_status) from error
        return PushResult(remote_id=order_id, detail="already existed (confirmed); brought up to date")

    def close(self) -> None:
        """Close pooled connections."""
        self.client.session.close()
