"""ShopBack's connection check: the settings' shape, and a bare GET that records nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sync_daemon.core import http
from sync_daemon.core.errors import (
    RetryableError,
)
from sync_daemon.platforms.base import CheckResult

if TYPE_CHECKING:
    pass

from sync_daemon.platforms.shopback.answer import body_text, excerpt, parse_answer
from sync_daemon.platforms.shopback.client import ShopBackDestination
from sync_daemon.platforms.shopback.settings import NAME, PLATFORM


def check_connection(destination: ShopBackDestination) -> CheckResult:
    """Validate the settings and reach the endpoint with a bare GET (no token, no click id).

    No request can prove the offer id and the token without recording a conversion. A GET of
    the endpoint without any parameter carries no secret and cannot record anything; its answer
    shows that the URL is a postback endpoint that speaks ShopBack's text format.
    """
    problems = destination.settings.format_problems()
    if problems:
        return CheckResult(NAME, False, "; ".join(problems), "edit the [shopback] section")
    unproven = "offer_id and security_token are well-formed, but only a real conversion proves them"
    try:
        response = http.send(
            destination.session,
            "GET",
            destination.endpoint,
            platform=PLATFORM,
            timeout=destination.settings.timeout_seconds,
            allow_redirects=False,
        )
    except RetryableError as error:
        return CheckResult(NAME, False, str(error), "check shopback.endpoint and outbound network access")
    status = response.status_code
    details = {"endpoint": http.safe_url(destination.endpoint), "http_status": status, "answer": excerpt(response)}
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        target = http.safe_url(location) if urlsplit(location).scheme else "elsewhere"
        return CheckResult(
            NAME,
            False,
            f"the endpoint redirects (HTTP {status}) to {target}",
            "set shopback.endpoint to it",
            details,
        )
    if status in (404, 405, 410):
        return CheckResult(
            NAME, False, f"the endpoint answered HTTP {status}", "the postback URL ends in /aff_lsr", details
        )
    if status >= 400:
        return CheckResult(NAME, False, f"the endpoint answered HTTP {status}: {excerpt(response)}", "", details)
    if parse_answer(body_text(response)).kind == "unrecognised":
        return CheckResult(
            NAME,
            False,
            f"the host answers (HTTP {status}) but not in ShopBack's postback format: {excerpt(response)}",
            "check shopback.endpoint (the URL from your ShopBack representative)",
            details,
        )
    return CheckResult(
        NAME,
        True,
        f"endpoint reachable and answering in ShopBack's postback format (probe without token or click id, "
        f"nothing recorded); {unproven}",
        details=details,
    )
