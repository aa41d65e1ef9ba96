"""Connection checks ("Test Connection"): prove that each connection works, without creating anything.

One registry (``CONNECTIONS``) describes every connection: its settings section, the fields a
merchant pastes (used by ``connect`` to prompt), and the function that checks it. A new platform
is one ``register(Connection(...))``; platforms that are delivery destinations are checked
through their own ``check_connection`` (built with ``build_destinations``).

Every check runs in three steps:

1. The values as pasted (raw: secrets are never stripped) — empty, bullets (••••) from a hidden
   field, the example placeholder, a stray space or newline, a key without its platform's prefix,
   a URL with the wrong path. A certain problem is reported at once, without a request.
2. The network check: read-only or validation-only requests whose answers prove the credentials
   (see each check).
3. When the platform refused the credentials, the ledger (read, never written) tells whether it
   accepted deliveries before: then the key was most likely regenerated in the dashboard.

Checks run side by side (one thread each), so a timeout on one does not delay the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from sync_daemon.config import Settings, origin_of
from sync_daemon.core import http
from sync_daemon.core.diagnose import (
    Finding,
    html_title,
    network_failure,
    plain_http,
    redirect_target,
    url_path,
    value_findings,
    value_source,
)
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.redaction import redact, safe_url
from sync_daemon.platforms import CheckResult, build_destinations
from sync_daemon.source.woocommerce import WooCommerceSource, probe_response

# WooCommerce's write check updates order 0, which cannot exist: a read/write key gets 400 "Invalid ID",
# a read-only key 401 "does not have write permissions". Nothing is created or changed either way.
WRITE_PROBE_ORDER_ID = 0
HTTP_ADVICE = (
    "use https:// in woocommerce.url: over http:// WooCommerce only accepts OAuth 1.0a, and many hosts "
    "redirect to https (which drops the signature)"
)
_WOO_KEYS_HINT = "WooCommerce → Settings → Advanced → REST API"


@dataclass(frozen=True)
class Field:
    """One value the merchant pastes for a connection."""

    key: str  # the setting's name in the section
    role: str  # "endpoint", "key", "secret" or "extra" (connect's --endpoint/--key/--secret/--origin)
    label: str  # in messages and prompts: "API secret"
    hidden: bool = True  # read without echo
    kind: str = "credential"  # "url", "credential" (a key or secret) or "text"
    prefix: str = ""  # what every valid value starts with ("fbc_")
    optional: bool = False


@dataclass(frozen=True)
class Connection:
    """A connection sync-daemon can check (and ``connect`` can save)."""

    name: str  # the settings section
    title: str  # "GoTrack"
    dashboard: str  # where the merchant finds the values
    fields: tuple[Field, ...]
    check: Callable[[Settings, Context], CheckResult]
    platform: bool = True  # has an ``enabled`` switch (WooCommerce does not)
    preflight: Callable[[Settings], list[Finding]] = lambda settings: []

    def available(self, settings: Settings) -> bool:
        """Whether this build of the settings knows the section at all."""
        return hasattr(settings, self.name)

    def enabled(self, settings: Settings) -> bool:
        """WooCommerce always; a platform when its section says enabled = true."""
        return self.available(settings) and (not self.platform or bool(getattr(settings, self.name).enabled))

    def field(self, role: str) -> Field | None:
        """The field with a role, if this connection has one."""
        return next((item for item in self.fields if item.role == role), None)


@dataclass
class Context:
    """What a check may need besides the settings: where values come from, the ledger's memory."""

    config_file: Path | None = None
    history: Callable[[Settings, str], str | None] | None = None  # default: ledger_history


CONNECTIONS: dict[str, Connection] = {}


def register(connection: Connection) -> Connection:
    """Add (or replace) a connection; the order of registration is the order of the report."""
    CONNECTIONS[connection.name] = connection
    return connection


# -- the checks --------------------------------------------------------------------------------------


def _result(name: str, ok: bool, message: str, hint: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, ok, redact(message), redact(hint), details)


def _wc_error(response: requests.Response) -> tuple[str, str]:
    body = http.json_body(response)
    if isinstance(body, dict):
        return str(body.get("code") or ""), redact(" ".join(str(body.get("message") or "").split()))[:200]
    return "", ""


def _shop_url_from(target: str) -> str:
    """The shop address inside a URL that points into its REST API."""
    parts = urlsplit(target)
    path = parts.path.split("/wp-json", 1)[0].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _anonymous_get(settings: Settings, url: str) -> requests.Response | None:
    """An unauthenticated GET (REST discovery); None when it fails for any reason."""
    session = http.build_session()
    try:
        return session.get(url, timeout=settings.woocommerce.timeout_seconds, verify=settings.woocommerce.verify_tls)
    except requests.RequestException:
        return None
    finally:
        session.close()


def _json_dict(response: requests.Response | None) -> dict[str, Any] | None:
    if response is None or response.status_code != 200 or http.is_html(response):
        return None
    body = http.json_body(response)
    return body if isinstance(body, dict) else None


def _woo_not_found(settings: Settings, response: requests.Response) -> CheckResult:
    """404 on the orders route: REST API off, WooCommerce inactive, plain permalinks or a wrong URL."""
    url = settings.woocommerce.url
    code, _ = _wc_error(response)
    if code == "rest_no_route":
        index = _json_dict(_anonymous_get(settings, f"{url}/wp-json/"))
        namespaces = index.get("namespaces") if index else None
        if isinstance(namespaces, list) and "wc/v3" not in namespaces:
            return _result(
                "woocommerce",
                False,
                "the WordPress REST API answers, but WooCommerce's API (wc/v3) is not there: WooCommerce is not "
                "active, or older than 3.5",
                "activate (or update) WooCommerce under Plugins",
                http_status=404,
            )
        return _result(
            "woocommerce",
            False,
            "the REST API route of WooCommerce was not found (404 rest_no_route): the REST API is disabled (a "
            "plugin such as 'Disable REST API' or a security plugin) or WooCommerce is not active",
            "allow the REST API (at least /wp-json/wc/v3/ for API keys) in that plugin, and check WooCommerce is "
            "active",
            http_status=404,
        )
    # Not WordPress's JSON 404: with "Plain" permalinks /wp-json/ is an ordinary (HTML) 404 page, while the
    # same API still answers under ?rest_route=. An unauthenticated GET of the namespace tells them apart.
    plain = _json_dict(_anonymous_get(settings, f"{url}/?rest_route=/wc/v3"))
    if plain is not None and (plain.get("namespace") == "wc/v3" or "routes" in plain):
        return _result(
            "woocommerce",
            False,
            "the REST API only answers under ?rest_route= because permalinks are set to 'Plain' (/wp-json/ gives "
            "a 404 page)",
            "in WordPress → Settings → Permalinks choose 'Post name' (anything but Plain) and save",
            http_status=404,
        )
    title = html_title(response) if http.is_html(response) else ""
    page = f" (a 404 page{': “' + title + '”' if title else ''})" if http.is_html(response) else ""
    return _result(
        "woocommerce",
        False,
        f"there is no WordPress REST API at {url}/wp-json/{page}",
        "set woocommerce.url to the WordPress site address (Settings → General → Site Address), without "
        "/wp-json; if it is right, set Settings → Permalinks to anything but 'Plain'",
        http_status=404,
    )


def _woo_auth(settings: Settings, response: requests.Response) -> CheckResult:
    """401/403 on the read: which half of the credentials, or what in between, is wrong."""
    status = response.status_code
    code, message = _wc_error(response)
    said = f"HTTP {status} {code}: {message}".strip(": ")
    lowered = message.lower()
    if http.is_html(response) or not code:
        title = html_title(response)
        return _result(
            "woocommerce",
            False,
            f"a firewall or security plugin blocks this server (HTTP {status} page"
            f"{': “' + title + '”' if title else ''}), before WooCommerce sees the key",
            "allow this server's IP address (or /wp-json/wc/) in the firewall or security plugin (Wordfence, "
            "Cloudflare, ModSecurity, …)",
            http_status=status,
        )
    if "read permission" in lowered:
        return _result(
            "woocommerce",
            False,
            f"the key is write-only: it cannot read orders ({said})",
            f"{_WOO_KEYS_HINT} → edit the key → Permissions: Read/Write (the key and secret stay the same)",
            http_status=status,
        )
    if "consumer key is invalid" in lowered:
        return _result(
            "woocommerce",
            False,
            f"WooCommerce does not know this consumer key ({said}): mistyped, revoked, or from another shop",
            f"create a key under {_WOO_KEYS_HINT} (Read/Write) and paste both the key and the secret",
            http_status=status,
            auth_rejected=True,
        )
    if "secret is invalid" in lowered or "signature" in lowered:
        return _result(
            "woocommerce",
            False,
            f"the consumer secret does not belong to this consumer key ({said})",
            "paste the consumer secret that was shown together with this key (WooCommerce shows it only once: "
            f"if it is lost, create a new key under {_WOO_KEYS_HINT})",
            http_status=status,
            auth_rejected=True,
        )
    if "timestamp" in lowered:
        return _result(
            "woocommerce",
            False,
            f"WooCommerce refused the request's time ({said}): this machine's clock is off by more than 15 minutes",
            "set the clock right (e.g. timedatectl set-ntp true)",
            http_status=status,
        )
    if "nonce" in lowered:
        return _result("woocommerce", False, f"a replayed request was refused ({said})", "run the test again")
    if code in ("woocommerce_rest_cannot_view", "woocommerce_rest_cannot_list"):
        if settings.woocommerce.url.startswith("https://"):
            cause = (
                "the shop did not receive the key at all (it answered as to an anonymous visitor): the web server "
                "drops the Authorization header"
            )
            fix = (
                "on Apache with PHP-CGI/FastCGI add to .htaccess: SetEnvIf Authorization \"(.*)\" "
                "HTTP_AUTHORIZATION=$1 — or ask the host to pass the Authorization header to PHP"
            )
        else:
            cause = "the shop ignored the OAuth signature (it answered as to an anonymous visitor)"
            fix = HTTP_ADVICE
        return _result("woocommerce", False, f"{cause} ({said})", fix, http_status=status)
    if code.startswith("rest_") or "rest api" in lowered:
        return _result(
            "woocommerce",
            False,
            f"a plugin restricts the REST API ({said})",
            "allow /wp-json/wc/v3/ for API keys in that plugin ('Disable REST API', a security plugin)",
            http_status=status,
        )
    if status == 403:
        return _result(
            "woocommerce",
            False,
            f"the key was refused ({said})",
            "the key must belong to an administrator or shop manager; create it again under " + _WOO_KEYS_HINT,
            http_status=status,
        )
    return _result(
        "woocommerce",
        False,
        f"the shop rejected the key ({said})",
        f"create a key under {_WOO_KEYS_HINT} and paste both values",
        http_status=status,
        auth_rejected=True,
    )


def _woo_redirect(settings: Settings, response: requests.Response) -> CheckResult:
    target = redirect_target(response)
    current = settings.woocommerce.url
    status = response.status_code
    if "wp-login.php" in target:
        return _result(
            "woocommerce",
            False,
            f"API requests are redirected to the WordPress login page (HTTP {status}): a security, membership or "
            "maintenance plugin guards /wp-json/",
            "exclude /wp-json/wc/ from that plugin's login requirement",
            http_status=status,
        )
    suggested = _shop_url_from(target) if target else ""
    if suggested and "/wp-json/" in urlsplit(target).path:
        why = (
            "the shop redirects http:// to https://"
            if urlsplit(current).scheme == "http" and urlsplit(target).scheme == "https"
            else f"the shop redirects to {suggested}"
        )
        return _result(
            "woocommerce",
            False,
            f"{why} (HTTP {status}); the daemon does not follow redirects, as the credentials would not survive them",
            f"set woocommerce.url = \"{suggested}\"",
            http_status=status,
            suggested_url=suggested,
        )
    return _result(
        "woocommerce",
        False,
        f"the shop redirects API requests to {safe_url(target) or 'another page'} (HTTP {status}), not to its API",
        "check woocommerce.url (the WordPress site address); a maintenance or coming-soon plugin may be on",
        http_status=status,
    )


def _woo_read_problem(settings: Settings, response: requests.Response) -> CheckResult | None:
    """None when the answer is WooCommerce's orders list; else what is wrong."""
    status = response.status_code
    if 300 <= status < 400:
        return _woo_redirect(settings, response)
    if status == 404:
        return _woo_not_found(settings, response)
    if status in (401, 403):
        return _woo_auth(settings, response)
    if http.is_html(response):
        title = html_title(response)
        return _result(
            "woocommerce",
            False,
            f"got an HTML page{' (“' + title + '”)' if title else ''} instead of JSON (HTTP {status}): a security "
            "plugin, a firewall, a maintenance/coming-soon page or a wrong shop URL is answering instead of "
            "WooCommerce",
            f"open {settings.woocommerce.url}/wp-json/wc/v3/ in a browser to see who answers: allow this server in "
            "the security plugin or firewall, switch off maintenance mode, or fix woocommerce.url",
            http_status=status,
        )
    if status == 429:
        return _result("woocommerce", False, "the shop's host rate-limits this server (HTTP 429)", "try again later")
    if status >= 500:
        code, message = _wc_error(response)
        return _result(
            "woocommerce",
            False,
            f"the shop answered HTTP {status}{' ' + code + ': ' + message if code else ''} (a PHP error, an "
            "overloaded server or maintenance)",
            "look at the shop's PHP error log, then try again",
            http_status=status,
        )
    if not 200 <= status < 300:
        code, message = _wc_error(response)
        return _result(
            "woocommerce", False, f"unexpected HTTP {status} {code}: {message}".rstrip(": "), "", http_status=status
        )
    if not isinstance(http.json_body(response), list):
        return _result(
            "woocommerce",
            False,
            "the answer is JSON but not WooCommerce's orders list",
            "set woocommerce.url to the WordPress site address (without /wp-json)",
            http_status=status,
        )
    return None


def _needs_write(settings: Settings) -> bool:
    writeback = getattr(settings, "writeback", None)
    if writeback is None or not writeback.enabled:
        return False
    return bool(settings.orderrepo.enabled or (hasattr(settings, "tracktor") and settings.tracktor.enabled))


def check_woocommerce(settings: Settings, context: Context) -> CheckResult:
    """Read one order (proves URL, REST API and key), then prove write access on order 0.

    ``GET orders?per_page=1`` is the cheapest authenticated read. ``PUT orders/0`` with an empty
    body is refused either by the key's permission check (401, read-only key) or, for a
    read/write key, because order 0 does not exist (400 ``woocommerce_rest_shop_order_invalid_id``):
    nothing is created or changed either way. Redirects are never followed.
    """
    wc = settings.woocommerce
    source = WooCommerceSource(wc)
    http_note = plain_http(wc.url)
    try:
        read = probe_response(source, "get", "orders", params={"per_page": 1})
    except requests.RequestException as error:
        cause, fix = network_failure(error, wc.url, wc.timeout_seconds, setting="woocommerce.url")
        if http_note:
            fix = f"{fix}; and {HTTP_ADVICE}"
        return _result("woocommerce", False, cause, fix)
    problem = _woo_read_problem(settings, read)
    if problem is not None:
        if http_note and not problem.details.get("suggested_url"):
            problem = replace(problem, hint=f"{problem.hint}; {HTTP_ADVICE}".lstrip("; "))
        return problem
    total = read.headers.get("X-WP-Total")
    reading = f"the key can read orders ({total} in the shop)" if total is not None else "the key can read orders"
    can_write = _woo_can_write(source)
    note = " (note: plain http:// — order data travels unencrypted; use https:// if the shop has a certificate)"
    note = note if http_note else ""
    if can_write is True:
        return _result("woocommerce", True, f"REST API answers; {reading} and write (status write-back){note}",
                       can_write=True)
    if can_write is False:
        if _needs_write(settings):
            return _result(
                "woocommerce",
                False,
                f"REST API answers and {reading}, but the key is READ-ONLY and status write-back is on (it needs "
                "Read/Write)",
                f"{_WOO_KEYS_HINT} → edit the key → Permissions: Read/Write (key and secret stay the same); or set "
                "writeback.enabled = false",
                can_write=False,
            )
        return _result(
            "woocommerce",
            True,
            f"REST API answers; {reading}; the key is read-only (fine while status write-back is off){note}",
            can_write=False,
            read_only=True,
        )
    return _result("woocommerce", True, f"REST API answers; {reading}; write access unknown ({can_write}){note}")


def _woo_can_write(source: WooCommerceSource) -> bool | str:
    """True (read/write key), False (read-only key) or a short reason why it is unknown."""
    try:
        response = probe_response(source, "put", f"orders/{WRITE_PROBE_ORDER_ID}", data={})
    except requests.RequestException as error:
        return f"the write check failed: {type(error).__name__}"
    code, message = _wc_error(response)
    refused = ("woocommerce_rest_cannot_edit", "woocommerce_rest_cannot_create")
    if response.status_code in (401, 403) and ("write permission" in message.lower() or code in refused):
        return False
    if response.status_code in (400, 404) and "invalid_id" in code:
        return True
    return f"HTTP {response.status_code} {code}".strip()


def check_destination(settings: Settings, context: Context, name: str) -> CheckResult:
    """A delivery destination's own ``check_connection`` (GoTrack, OrderRepo, ShopBack, …)."""
    destinations = build_destinations(settings, [name])
    try:
        return destinations[name].check_connection()
    finally:
        for destination in destinations.values():
            with contextlib.suppress(Exception):
                destination.close()


def check_tracktor(settings: Settings, context: Context) -> CheckResult:
    """Tracktor: reading the shop's status options proves key and uuid (nothing is changed)."""
    try:
        from sync_daemon.platforms.tracktor import TracktorClient
    except ImportError:
        return _result("tracktor", False, "this version of sync-daemon cannot check Tracktor yet")
    client = TracktorClient(settings.tracktor)
    try:
        if hasattr(client, "check_connection"):
            return client.check_connection()
        options = client.status_options()
        return _result("tracktor", True, f"key and uuid accepted; {len(options)} status options")
    finally:
        with contextlib.suppress(Exception):
            client.close()


# -- pre-flight: the values as pasted ----------------------------------------------------------------


def _prefix_findings(connection: Connection, section: Any) -> list[Finding]:
    """Keys that lack their platform's prefix, or key and secret pasted the wrong way round."""
    found: list[Finding] = []
    key_field, secret_field = connection.field("key"), connection.field("secret")
    values = {
        item.key: getattr(section, item.key).get_secret_value()
        for item in (key_field, secret_field)
        if item is not None and hasattr(getattr(section, item.key, None), "get_secret_value")
    }
    if key_field and secret_field and key_field.key in values and secret_field.key in values:
        key, secret = values[key_field.key].strip(), values[secret_field.key].strip()
        if key and key == secret:
            return [
                Finding(
                    f"{connection.name}.{key_field.key}",
                    f"and {connection.name}.{secret_field.key} are the same value",
                    f"paste the {key_field.label} and the {secret_field.label} from {connection.dashboard}",
                )
            ]
        if (
            key_field.prefix
            and secret_field.prefix
            and key.startswith(secret_field.prefix)
            and secret.startswith(key_field.prefix)
        ) or (key_field.prefix and not secret_field.prefix and secret.startswith(key_field.prefix)
              and not key.startswith(key_field.prefix)):
            return [
                Finding(
                    f"{connection.name}.{key_field.key}",
                    f"and {connection.name}.{secret_field.key} are swapped (the {key_field.label} starts with "
                    f"{key_field.prefix})",
                    "exchange the two values",
                )
            ]
    for item in connection.fields:
        value = values.get(item.key, "").strip()
        if item.prefix and value and not value.startswith(item.prefix):
            other = next(
                (f" (it starts like the {o.label}, {o.prefix}…)" for o in connection.fields
                 if o is not item and o.prefix and value.startswith(o.prefix)),
                "",
            )
            found.append(
                Finding(
                    f"{connection.name}.{item.key}",
                    f"does not start with {item.prefix}{other}: it is not a {connection.title} {item.label}",
                    f"copy the {item.label} from {connection.dashboard}",
                )
            )
    return found


def preflight(connection: Connection, settings: Settings, context: Context) -> list[Finding]:
    """Every problem visible in the values themselves, before any request."""
    section = getattr(settings, connection.name)
    found: list[Finding] = []
    for item in connection.fields:
        raw = getattr(section, item.key, None)
        if raw is None:
            continue
        value = raw.get_secret_value() if hasattr(raw, "get_secret_value") else str(raw)
        dotted = f"{connection.name}.{item.key}"
        if item.kind == "url":
            if not value and not item.optional:
                found.append(Finding(dotted, "is empty", f"paste the {item.label} from {connection.dashboard}"))
            continue
        if not value and item.optional:
            continue
        where = value_source(connection.name, item.key, context.config_file)
        found.extend(value_findings(dotted, value, label=item.label, where=where))
    if any(finding.fatal for finding in found):
        return found
    found.extend(_prefix_findings(connection, section))
    found.extend(connection.preflight(settings))
    return found


def _woocommerce_urls(settings: Settings) -> list[Finding]:
    url = settings.woocommerce.url
    path = url_path(url)
    for marker in ("/wp-json", "/wp-admin", "/wp-login.php", "/index.php"):
        if marker in path:
            site = url.split(marker, 1)[0]
            return [
                Finding(
                    "woocommerce.url",
                    f"points into WordPress ({marker}…) instead of being the site address",
                    f"set woocommerce.url = \"{site}\" (the daemon adds /wp-json/wc/v3 itself)",
                )
            ]
    return []


def _gotrack_urls(settings: Settings) -> list[Finding]:
    endpoint = settings.gotrack.endpoint
    if url_path(endpoint) == "":
        return [
            Finding(
                "gotrack.endpoint",
                "is only the host, not the Endpoint URL",
                f"use the Endpoint URL from GoTrack → Settings → API, e.g. {origin_of(endpoint)}/api/v1/orders",
            )
        ]
    return []


def _orderrepo_urls(settings: Settings) -> list[Finding]:
    base = settings.orderrepo.base_url
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


# -- the registry ------------------------------------------------------------------------------------

register(
    Connection(
        name="woocommerce",
        title="WooCommerce",
        dashboard=_WOO_KEYS_HINT,
        fields=(
            Field("url", "endpoint", "shop URL", hidden=False, kind="url"),
            Field("consumer_key", "key", "consumer key", prefix="ck_"),
            Field("consumer_secret", "secret", "consumer secret", prefix="cs_"),
        ),
        check=check_woocommerce,
        platform=False,
        preflight=_woocommerce_urls,
    )
)
register(
    Connection(
        name="gotrack",
        title="GoTrack",
        dashboard="GoTrack → Settings → API",
        fields=(
            Field("endpoint", "endpoint", "Endpoint URL", hidden=False, kind="url"),
            # The API key is a public identifier (the contract says so); the secret is a password.
            Field("api_key", "key", "API key", hidden=False, prefix="fbc_"),
            Field("api_secret", "secret", "API secret"),
        ),
        check=lambda settings, context: check_destination(settings, context, "gotrack"),
        preflight=_gotrack_urls,
    )
)
register(
    Connection(
        name="orderrepo",
        title="OrderRepo",
        dashboard="the OrderRepo project → API keys",
        fields=(
            Field("base_url", "endpoint", "base URL", hidden=False, kind="url"),
            Field("api_key", "secret", "API key"),
            Field("origin", "extra", "Origin (a domain added to the project)", hidden=False, kind="url",
                  optional=True),
        ),
        check=lambda settings, context: check_destination(settings, context, "orderrepo"),
        preflight=_orderrepo_urls,
    )
)
register(
    Connection(
        name="shopback",
        title="ShopBack",
        dashboard="your ShopBack representative's e-mail",
        fields=(
            Field("endpoint", "endpoint", "postback URL", hidden=False, kind="url"),
            Field("offer_id", "key", "offer id", hidden=False, kind="text"),
            Field("security_token", "secret", "security token"),
        ),
        check=lambda settings, context: check_destination(settings, context, "shopback"),
    )
)
register(
    Connection(
        name="tracktor",
        title="Tracktor",
        dashboard="Tracktor → Settings → API",
        fields=(
            Field("base_url", "endpoint", "API base URL", hidden=False, kind="url"),
            Field("uuid", "key", "shop uuid", hidden=False, kind="text"),
            Field("api_key", "secret", "API key"),
        ),
        check=check_tracktor,
    )
)


# -- running the checks --------------------------------------------------------------------------------


def ledger_history(settings: Settings, name: str) -> str | None:
    """What the ledger remembers of a connection that once worked (read only; None when nothing)."""
    path = settings.resolved_state_dir() / "ledger.sqlite3"
    try:
        if not path.is_file():
            return None
    except OSError:  # a state directory this user may not enter
        return None
    from sync_daemon.ledger import Ledger

    try:
        ledger = Ledger(path)
    except Exception:  # noqa: BLE001 - an unreadable ledger only means "no history"
        return None
    try:
        if name == "woocommerce":
            cursor = ledger.get_meta("cursor")
            return f"the daemon has read orders with these settings before (up to {cursor})" if cursor else None
        success = ledger.destination(name).get("last_success_at")
        return f"{name} accepted deliveries from this daemon before (last success at {success})" if success else None
    except Exception:  # noqa: BLE001
        return None
    finally:
        ledger.close()


def _regenerated_hint(connection: Connection, remembered: str) -> str:
    if not connection.platform:  # WooCommerce keys are revoked or deleted, not regenerated
        return (
            f"{remembered}: unless the values were changed here since, the key was revoked or deleted in "
            f"{connection.dashboard} — create a new one and paste it: sync-daemon connect {connection.name}"
        )
    return (
        f"{remembered}: unless the values were changed here since, they were probably regenerated in "
        f"{connection.dashboard} — paste the new ones: sync-daemon connect {connection.name}"
    )


def check_one(settings: Settings, name: str, context: Context | None = None) -> CheckResult:
    """Pre-flight, then the network check, then the ledger's memory when the credentials were refused."""
    context = context or Context()
    connection = CONNECTIONS[name]
    findings = preflight(connection, settings, context)
    fatal = [finding for finding in findings if finding.fatal]
    listed = [vars(finding) for finding in findings]
    if fatal:
        return _result(
            name,
            False,
            "; ".join(f"{finding.field} {finding.problem}" for finding in fatal),
            "; ".join(dict.fromkeys(finding.fix for finding in fatal)),
            findings=listed,
        )
    try:
        result = connection.check(settings, context)
    except Exception as error:  # noqa: BLE001 - one broken check must not hide the others
        result = _result(name, False, f"the check itself failed: {type(error).__name__}: {error}")
    details = dict(result.details)
    if findings:
        details["findings"] = listed
    hint = result.hint
    if not result.ok and details.get("auth_rejected"):
        remembered = (context.history or ledger_history)(settings, name)
        if remembered:
            details["worked_before"] = remembered
            hint = _regenerated_hint(connection, remembered)
    message = result.message
    if connection.platform and not connection.enabled(settings):
        message += f" (note: {name} is not enabled: set enabled = true in [{name}])"
    return CheckResult(result.name, result.ok, redact(message), redact(hint), details)


def known_names(settings: Settings) -> list[str]:
    """Every connection this build can check."""
    return [name for name, connection in CONNECTIONS.items() if connection.available(settings)]


def default_names(settings: Settings) -> list[str]:
    """WooCommerce and every enabled platform."""
    return [name for name, connection in CONNECTIONS.items() if connection.enabled(settings)]


def check_all(
    settings: Settings,
    names: list[str] | None = None,
    *,
    config_file: Path | None = None,
    context: Context | None = None,
    invalid: dict[str, list[str]] | None = None,
) -> list[CheckResult]:
    """Check WooCommerce and the enabled (or named) connections side by side; results in registry order.

    ``invalid`` holds, per section, configuration problems that ruled some of its values out
    (``load_for_checks``): such a connection fails with them, and the others are still checked.
    """
    invalid = {name: lines for name, lines in (invalid or {}).items() if name in CONNECTIONS}
    known = known_names(settings)
    known += [name for name in invalid if name not in known]
    wanted = list(dict.fromkeys(names)) if names else [*default_names(settings), *invalid]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ConfigurationError(f"unknown connection(s): {', '.join(unknown)} (known: {', '.join(known)})")
    context = context or Context(config_file=config_file)
    ordered = [name for name in known if name in wanted]
    if not ordered:
        return []
    with ThreadPoolExecutor(max_workers=len(ordered), thread_name_prefix="test-connection") as pool:
        futures = {name: pool.submit(check_one, settings, name, context) for name in ordered if name not in invalid}
        return [
            _misconfigured(name, invalid[name]) if name in invalid else futures[name].result() for name in ordered
        ]


def _misconfigured(name: str, problems: list[str]) -> CheckResult:
    """A connection not tried because its settings are invalid."""
    return _result(
        name,
        False,
        "; ".join(problems),
        f"fix it in the config file, or run `sync-daemon connect {name}`; nothing was sent",
        config_problems=problems,
    )


def format_line(result: CheckResult) -> str:
    """One line of the report: name, OK/FAILED, what was verified or what is wrong, and what to do."""
    line = f"{result.name:<12} {'OK' if result.ok else 'FAILED'}  {result.message}"
    if result.hint and not result.ok:
        line += f" — {result.hint}"
    return redact(line)


__all__ = [
    "CONNECTIONS",
    "Connection",
    "Context",
    "Field",
    "check_all",
    "check_one",
    "format_line",
    "register",
]
