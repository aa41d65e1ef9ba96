"""The shop's connection check: read one order, then prove write access, creating and changing nothing.

The requests go out exactly as the daemon signs them (``probe_response``), redirects not followed;
what a refused or odd answer means is read in ``answers.py``. The ``woocommerce.url`` pre-flight
(a URL pointing into WordPress instead of being the site address) is here too.
"""

from __future__ import annotations

from dataclasses import replace

import requests

from sync_daemon.core.connection import CheckResult, ConnectionSpec, Field
from sync_daemon.core.diagnose import Finding, network_failure, plain_http
from sync_daemon.source.answers import HTTP_ADVICE, KEYS_PAGE, NAME, read_problem, rest_error, verdict
from sync_daemon.source.settings import WooCommerceSettings, wordpress_address
from sync_daemon.source.woocommerce import PLATFORM, WooCommerceSource, probe_response

__all__ = [
    "HTTP_ADVICE",
    "NAME",
    "KEYS_PAGE",
    "TITLE",
    "WRITE_PROBE_ORDER_ID",
    "SHOP_CONNECTION",
    "check_woocommerce",
    "url_findings",
]

# WooCommerce's write check updates order 0, which cannot exist: a read/write key gets 400 "Invalid ID",
# a read-only key 401 "does not have write permissions". Nothing is created or changed either way.
WRITE_PROBE_ORDER_ID = 0
TITLE = PLATFORM  # "WooCommerce", in reports and prompts
_PLAIN_HTTP_NOTE = " (note: plain http:// — order data travels unencrypted; use https:// if the shop has a certificate)"


def check_woocommerce(shop: WooCommerceSettings, *, needs_write: bool) -> CheckResult:
    """Read one order (proves URL, REST API and key), then prove write access on order 0.

    ``GET orders?per_page=1`` is the cheapest authenticated read. ``PUT orders/0`` with an empty
    body is refused either by the key's permission check (401, read-only key) or, for a
    read/write key, because order 0 does not exist (400 ``woocommerce_rest_shop_order_invalid_id``):
    nothing is created or changed either way. Redirects are never followed. ``needs_write`` says
    whether status write-back is on for a platform that reads statuses back: then a read-only key fails.
    """
    source = WooCommerceSource(shop)
    http_note = plain_http(shop.url)
    try:
        read = probe_response(source, "get", "orders", params={"per_page": 1})
    except requests.RequestException as error:
        cause, fix = network_failure(
            error, shop.url, shop.timeout_seconds, setting="woocommerce.url", ca_bundle=shop.ca_bundle
        )
        if http_note:
            fix = f"{fix}; and {HTTP_ADVICE}"
        return verdict(False, cause, fix)
    problem = read_problem(shop, read)
    if problem is not None:
        if http_note and not problem.details.get("suggested_url"):
            problem = replace(problem, hint=f"{problem.hint}; {HTTP_ADVICE}".lstrip("; "))
        return problem
    total = read.headers.get("X-WP-Total")
    reading = f"the key can read orders ({total} in the shop)" if total is not None else "the key can read orders"
    can_write = _woo_can_write(source)
    note = _PLAIN_HTTP_NOTE if http_note else ""
    if can_write is True:
        return verdict(True, f"REST API answers; {reading} and write (status write-back){note}", can_write=True)
    if can_write is False:
        if needs_write:
            return verdict(
                False,
                f"REST API answers and {reading}, but the key is READ-ONLY and status write-back is on (it needs "
                "Read/Write)",
                f"{KEYS_PAGE} → edit the key → Permissions: Read/Write (key and secret stay the same); or set "
                "writeback.enabled = false",
                can_write=False,
            )
        return verdict(
            True,
            f"REST API answers; {reading}; the key is read-only (fine while status write-back is off){note}",
            can_write=False,
            read_only=True,
        )
    return verdict(True, f"REST API answers; {reading}; write access unknown ({can_write}){note}")


def _woo_can_write(source: WooCommerceSource) -> bool | str:
    """True (read/write key), False (read-only key) or a short reason why it is unknown."""
    try:
        response = probe_response(source, "put", f"orders/{WRITE_PROBE_ORDER_ID}", data={})
    except requests.RequestException as error:
        return f"the write check failed: {type(error).__name__}"
    code, message = rest_error(response)
    refused = ("woocommerce_rest_cannot_edit", "woocommerce_rest_cannot_create")
    if response.status_code in (401, 403) and ("write permission" in message.lower() or code in refused):
        return False
    if response.status_code in (400, 404) and "invalid_id" in code:
        return True
    return f"HTTP {response.status_code} {code}".strip()


def url_findings(shop: WooCommerceSettings) -> list[Finding]:
    """A shop URL pointing into WordPress (``/wp-json``, ``/wp-admin`` …) instead of being the site address.

    A plain http:// address is a warning only: it can work (OAuth 1.0a), which the check then shows.
    """
    pointer = wordpress_address(shop.url)
    if pointer is None:
        return [Finding("woocommerce.url", "uses http://", HTTP_ADVICE, fatal=False)] if plain_http(shop.url) else []
    what, site = pointer
    return [
        Finding(
            "woocommerce.url",
            f"{what} instead of being the site address",
            f"set woocommerce.url = \"{site}\" (the daemon adds /wp-json/wc/v3 itself)",
            suggestion=site,
        )
    ]


SHOP_CONNECTION = ConnectionSpec(
    title=TITLE,
    dashboard=KEYS_PAGE,
    fields=(
        Field("url", "endpoint", "shop URL", hidden=False, kind="url"),
        Field("consumer_key", "key", "consumer key", prefix="ck_"),
        Field("consumer_secret", "secret", "consumer secret", prefix="cs_"),
    ),
    preflight=url_findings,
)
