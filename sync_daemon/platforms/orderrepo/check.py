"""OrderRepo's connection check: the read endpoint proves the key, an invalid write proves the Origin."""

from __future__ import annotations

from typing import Any

import requests

from sync_daemon.core import http
from sync_daemon.core.diagnose import Finding, html_title, network_failure, redirect_target, url_path
from sync_daemon.core.urls import origin_of
from sync_daemon.platforms.base import CheckResult
from sync_daemon.platforms.orderrepo.client import OrderRepoDestination, _message
from sync_daemon.platforms.orderrepo.settings import NAME, PLATFORM, OrderRepoSettings


def check_connection(destination: OrderRepoDestination) -> CheckResult:
    """The read endpoint proves the key; a deliberately invalid write proves the Origin (403 vs 422).

    The contract checks, in this order: ``X-API-KEY`` (401), then for writes the ``Origin``
    (403 "Invalid Origin header" / "Domain not allowed"), then the monthly limit (402), then the
    payload (422). ``GET /api/external/orders?per_page=1`` needs only the key, so a 200 proves it.
    ``POST /api/orders/track`` with ``{}`` lacks the required ``id`` and ``total``: it can never
    create an order, and it reaches validation (422) only after the key and the Origin passed —
    so 403 means the domain is not allowed and 422 (or 402) means it is. Redirects are not followed.
    """
    settings = destination.settings
    timeout = settings.timeout_seconds
    if not destination.origin:
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
        read = destination.client.session.get(
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
        write = destination.client.session.post(
            f"{settings.base_url}/api/orders/track",
            json={},
            headers={"Origin": destination.origin},
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
                f"the API key works, but {PLATFORM} finds the Origin {destination.origin} invalid (403 {message})",
                "set orderrepo.origin to scheme://domain of a domain added to the project, e.g. "
                "https://shop.example.com",
                {"http_status": status},
            )
        return CheckResult(
            NAME,
            False,
            f"the API key works, but the domain {destination.origin} is not allowed in the OrderRepo project "
            f"(403 {message})",
            f"add {destination.origin} to the OrderRepo project's domains and enable it, or set orderrepo.origin to a "
            "domain that is",
            {"http_status": status, "origin": destination.origin},
        )
    if status in (422, 402):
        verified = f"API key accepted; Origin {destination.origin} allowed; nothing created"
        if status == 402:
            verified += (
                f" — but the monthly order limit is reached (402 {_message(write)}): no order will be accepted "
                "until the plan is upgraded or the next billing period starts"
            )
        return CheckResult(NAME, True, verified, details={"http_status": status, "origin": destination.origin})
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


def base_url_findings(settings: OrderRepoSettings) -> list[Finding]:
    """A base URL that includes an API path, before any request."""
    base = settings.base_url
    path = url_path(base)
    if "/api" in path:
        return [
            Finding(
                "orderrepo.base_url",
                f"includes an API path ({path})",
                f"set orderrepo.base_url = \"{origin_of(base)}{path.split('/api', 1)[0]}\" (the daemon adds "
                "/api/orders/track and the other paths itself)",
            )
        ]
    return []
