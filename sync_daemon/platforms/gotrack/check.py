"""GoTrack's connection check: a request GoTrack must refuse, for validation, after authentication."""

from __future__ import annotations

from typing import Any

import requests

from sync_daemon.core import http
from sync_daemon.core.diagnose import Finding, html_title, network_failure, redirect_target, url_path
from sync_daemon.core.urls import origin_of
from sync_daemon.platforms.base import CheckResult
from sync_daemon.platforms.gotrack.client import GoTrackDestination, _error_message
from sync_daemon.platforms.gotrack.settings import NAME, PLATFORM, GoTrackSettings


def check_connection(destination: GoTrackDestination) -> CheckResult:
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
    timeout = destination.settings.timeout_seconds
    try:
        response = destination.session.post(destination.endpoint, json={}, timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        cause, fix = network_failure(error, destination.endpoint, timeout, setting="gotrack.endpoint")
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
    path = url_path(destination.endpoint) or "/"
    expected = f"{origin_of(destination.endpoint)}/api/v1/orders"
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
            f"{PLATFORM}: HTTP {status} from {http.safe_url(destination.endpoint)}: the endpoint URL has a wrong path "
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


def endpoint_findings(settings: GoTrackSettings) -> list[Finding]:
    """An endpoint that is only the host, before any request."""
    endpoint = settings.endpoint
    if url_path(endpoint) == "":
        return [
            Finding(
                "gotrack.endpoint",
                "is only the host, not the Endpoint URL",
                f"use the Endpoint URL from GoTrack → Settings → API, e.g. {origin_of(endpoint)}/api/v1/orders",
            )
        ]
    return []
