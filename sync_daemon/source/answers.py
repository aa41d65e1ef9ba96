"""What the shop's answers to the connection check mean: each refusal turned into its cause and its fix.

``check.py`` sends the requests; this module reads a refused or odd answer to the orders list
(404, 401/403, a redirect, an HTML page, 5xx) and, where one answer can mean several things, asks
the shop one more unauthenticated question to tell them apart: where WordPress announces its REST
API (the ``Link`` header of its pages), the REST index at the site's root, ``?rest_route=``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from sync_daemon.core import http
from sync_daemon.core.connection import CheckResult
from sync_daemon.core.diagnose import html_title, redirect_target
from sync_daemon.core.redaction import redact, safe_url
from sync_daemon.core.urls import origin_of
from sync_daemon.source.settings import WooCommerceSettings

NAME = "woocommerce"  # the shop's settings section, and the name its check reports under
KEYS_PAGE = "WooCommerce → Settings → Advanced → REST API"  # where the merchant makes and edits API keys
API_LINK_REL = "https://api.w.org/"  # the Link relation WordPress announces its REST API root with
HTTP_ADVICE = (
    "use https:// in woocommerce.url: over http:// WooCommerce only accepts OAuth 1.0a, and many hosts "
    "redirect to https (which drops the signature)"
)


def verdict(ok: bool, message: str, hint: str = "", **details: Any) -> CheckResult:
    """The shop check's result, with every secret in its message and hint masked."""
    return CheckResult(NAME, ok, redact(message), redact(hint), details)


def rest_error(response: requests.Response) -> tuple[str, str]:
    """The ``code`` and the ``message`` (redacted, one line, at most 200 characters) of a REST error answer."""
    body = http.json_body(response)
    if isinstance(body, dict):
        return str(body.get("code") or ""), redact(" ".join(str(body.get("message") or "").split()))[:200]
    return "", ""


def _shop_url_from(target: str) -> str:
    """The shop address inside a URL that points into its REST API."""
    parts = urlsplit(target)
    path = parts.path.split("/wp-json", 1)[0].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _anonymous_get(shop: WooCommerceSettings, url: str) -> requests.Response | None:
    """An unauthenticated GET (REST discovery); None when it fails for any reason."""
    session = http.build_session()
    try:
        return session.get(url, timeout=shop.timeout_seconds, verify=shop.tls_verify())
    except requests.RequestException:
        return None
    finally:
        session.close()


def _json_dict(response: requests.Response | None) -> dict[str, Any] | None:
    if response is None or response.status_code != 200 or http.is_html(response):
        return None
    body = http.json_body(response)
    return body if isinstance(body, dict) else None


def _announced_site(response: requests.Response | None) -> tuple[str, bool] | None:
    """(the WordPress address, True when its REST API needs ?rest_route=) from a page's Link header.

    WordPress announces its REST API root on every page, its 404 page included:
    ``Link: <https://shop.example.com/wp-json/>; rel="https://api.w.org/"``, or with 'Plain'
    permalinks ``<https://shop.example.com/?rest_route=/>``. None when the answer has no such link.
    """
    link = response.links.get(API_LINK_REL, {}).get("url", "") if response is not None else ""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    root = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if "rest_route=" in parts.query:
        return root + path.removesuffix("/index.php"), True
    if path.endswith("/index.php/wp-json"):  # "PATHINFO" permalinks: as good as Plain for the REST API
        return root + path.removesuffix("/index.php/wp-json"), True
    if path.endswith("/wp-json"):
        return root + path.removesuffix("/wp-json"), False
    return None


def _where_wordpress_is(shop: WooCommerceSettings, response: requests.Response) -> tuple[str, bool] | None:
    """Where WordPress says it is (address, needs ?rest_route=), asked before blaming the permalinks.

    ``?rest_route=`` answers under any path of a WordPress site, so it cannot tell a wrong path
    (the shop page's address) from 'Plain' permalinks: the Link header of the 404 page (or of the
    page at the URL), and failing that the REST index at the site's root, can.
    """
    announced = _announced_site(response) or _announced_site(_anonymous_get(shop, f"{shop.url}/"))
    if announced is not None:
        return announced
    root = origin_of(shop.url)
    if root != shop.url:
        index = _json_dict(_anonymous_get(shop, f"{root}/wp-json/"))
        if index is not None and ("namespaces" in index or "routes" in index):
            return root, False
    return None


def _same_address(site: str, url: str) -> bool:
    """Host and path alike: a WordPress that calls itself http:// behind an https proxy is still this URL."""
    first, second = urlsplit(site), urlsplit(url)
    return (first.netloc.lower(), first.path.rstrip("/")) == (second.netloc.lower(), second.path.rstrip("/"))


def _keep_scheme(site: str, url: str) -> str:
    """The site address with the URL's scheme when they share the host: never suggest going from https to http."""
    first, second = urlsplit(site), urlsplit(url)
    return f"{second.scheme}://{first.netloc}{first.path}" if first.netloc.lower() == second.netloc.lower() else site


def _woo_wrong_address(shop: WooCommerceSettings, site: str, plain: bool) -> CheckResult:
    """The URL is not the WordPress address (the shop page's, a subfolder's): name the right one."""
    url = shop.url
    extra = url[len(site):] if url.startswith(site + "/") else url
    said = f"there is no REST API at {url}/wp-json/ (a 404 page): {extra} is not the WordPress address"
    if plain:
        return verdict(
            False,
            f"{said}; WordPress is at {site}, and its REST API answers only under ?rest_route= because permalinks "
            "are set to 'Plain'",
            f"set woocommerce.url to {site}, and in WordPress → Settings → Permalinks choose 'Post name' "
            "(anything but Plain) and save",
            http_status=404,
            suggested_url=site,
        )
    return verdict(
        False,
        f"{said}; the REST API answers at {site}/wp-json/",
        f"set woocommerce.url to {site}",
        http_status=404,
        suggested_url=site,
    )


def _woo_not_found(shop: WooCommerceSettings, response: requests.Response) -> CheckResult:
    """404 on the orders route: REST API off, WooCommerce inactive, a wrong URL or plain permalinks."""
    url = shop.url
    code, _ = rest_error(response)
    if code == "rest_no_route":
        index = _json_dict(_anonymous_get(shop, f"{url}/wp-json/"))
        namespaces = index.get("namespaces") if index else None
        if isinstance(namespaces, list) and "wc/v3" not in namespaces:
            return verdict(
                False,
                "the WordPress REST API answers, but WooCommerce's API (wc/v3) is not there: WooCommerce is not "
                "active, or older than 3.5",
                "activate (or update) WooCommerce under Plugins",
                http_status=404,
            )
        return verdict(
            False,
            "the REST API route of WooCommerce was not found (404 rest_no_route): the REST API is disabled (a "
            "plugin such as 'Disable REST API' or a security plugin) or WooCommerce is not active",
            "allow the REST API (at least /wp-json/wc/v3/ for API keys) in that plugin, and check WooCommerce is "
            "active",
            http_status=404,
        )
    # Not WordPress's JSON 404: /wp-json/ under this URL is an ordinary 404 page. Either the URL is
    # not the WordPress address, or permalinks are 'Plain' (the API then only answers ?rest_route=).
    found = _where_wordpress_is(shop, response)
    if found is not None and not _same_address(found[0], url):
        return _woo_wrong_address(shop, _keep_scheme(found[0], url), found[1])
    if found is not None and not found[1]:
        return verdict(
            False,
            f"WordPress announces its REST API at {url}/wp-json/, but that address gives a 404 page: the web "
            "server does not hand /wp-json/ to WordPress",
            "in WordPress → Settings → Permalinks click Save (it rewrites .htaccess); on nginx the site needs "
            "try_files $uri $uri/ /index.php?$args",
            http_status=404,
        )
    plain = found is not None or _answers_rest_route(shop)
    if plain:
        return verdict(
            False,
            "the REST API only answers under ?rest_route= because permalinks are set to 'Plain' (/wp-json/ gives "
            "a 404 page)",
            "in WordPress → Settings → Permalinks choose 'Post name' (anything but Plain) and save",
            http_status=404,
        )
    title = html_title(response) if http.is_html(response) else ""
    page = f" (a 404 page{': “' + title + '”' if title else ''})" if http.is_html(response) else ""
    return verdict(
        False,
        f"there is no WordPress REST API at {url}/wp-json/{page}",
        "set woocommerce.url to the WordPress site address (Settings → General → Site Address), without "
        "/wp-json; if it is right, set Settings → Permalinks to anything but 'Plain'",
        http_status=404,
    )


def _answers_rest_route(shop: WooCommerceSettings) -> bool:
    """True when WooCommerce's API answers under ``?rest_route=`` (a shop without a Link header)."""
    plain = _json_dict(_anonymous_get(shop, f"{shop.url}/?rest_route=/wc/v3"))
    return plain is not None and (plain.get("namespace") == "wc/v3" or "routes" in plain)


def _woo_auth(shop: WooCommerceSettings, response: requests.Response) -> CheckResult:
    """401/403 on the read: which half of the credentials, or what in between, is wrong."""
    status = response.status_code
    code, message = rest_error(response)
    said = f"HTTP {status} {code}: {message}".strip(": ")
    lowered = message.lower()
    if http.is_html(response) or not code:
        title = html_title(response)
        return verdict(
            False,
            f"a firewall or security plugin blocks this server (HTTP {status} page"
            f"{': “' + title + '”' if title else ''}), before WooCommerce sees the key",
            "allow this server's IP address (or /wp-json/wc/) in the firewall or security plugin (Wordfence, "
            "Cloudflare, ModSecurity, …)",
            http_status=status,
        )
    if "read permission" in lowered:
        return verdict(
            False,
            f"the key is write-only: it cannot read orders ({said})",
            f"{KEYS_PAGE} → edit the key → Permissions: Read/Write (the key and secret stay the same)",
            http_status=status,
        )
    if "consumer key is invalid" in lowered:
        return verdict(
            False,
            f"WooCommerce does not know this consumer key ({said}): mistyped, revoked, or from another shop",
            f"create a key under {KEYS_PAGE} (Read/Write) and paste both the key and the secret",
            http_status=status,
            auth_rejected=True,
        )
    if "secret is invalid" in lowered or "signature" in lowered:
        return verdict(
            False,
            f"the consumer secret does not belong to this consumer key ({said})",
            "paste the consumer secret that was shown together with this key (WooCommerce shows it only once: "
            f"if it is lost, create a new key under {KEYS_PAGE})",
            http_status=status,
            auth_rejected=True,
        )
    if "timestamp" in lowered:
        return verdict(
            False,
            f"WooCommerce refused the request's time ({said}): this machine's clock is off by more than 15 minutes",
            "set the clock right (e.g. timedatectl set-ntp true)",
            http_status=status,
        )
    if "nonce" in lowered:
        return verdict(False, f"a replayed request was refused ({said})", "run the test again")
    if code in ("woocommerce_rest_cannot_view", "woocommerce_rest_cannot_list"):
        if shop.url.startswith("https://"):
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
        return verdict(False, f"{cause} ({said})", fix, http_status=status)
    if code.startswith("rest_") or "rest api" in lowered:
        return verdict(
            False,
            f"a plugin restricts the REST API ({said})",
            "allow /wp-json/wc/v3/ for API keys in that plugin ('Disable REST API', a security plugin)",
            http_status=status,
        )
    if status == 403:
        return verdict(
            False,
            f"the key was refused ({said})",
            "the key must belong to an administrator or shop manager; create it again under " + KEYS_PAGE,
            http_status=status,
        )
    return verdict(
        False,
        f"the shop rejected the key ({said})",
        f"create a key under {KEYS_PAGE} and paste both values",
        http_status=status,
        auth_rejected=True,
    )


def _woo_redirect(shop: WooCommerceSettings, response: requests.Response) -> CheckResult:
    target = redirect_target(response)
    current = shop.url
    status = response.status_code
    if "wp-login.php" in target:
        return verdict(
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
        return verdict(
            False,
            f"{why} (HTTP {status}); the daemon does not follow redirects, as the credentials would not survive them",
            f"set woocommerce.url = \"{suggested}\"",
            http_status=status,
            suggested_url=suggested,
        )
    return verdict(
        False,
        f"the shop redirects API requests to {safe_url(target) or 'another page'} (HTTP {status}), not to its API",
        "check woocommerce.url (the WordPress site address); a maintenance or coming-soon plugin may be on",
        http_status=status,
    )


def read_problem(shop: WooCommerceSettings, response: requests.Response) -> CheckResult | None:
    """None when the answer is WooCommerce's orders list; else what is wrong."""
    status = response.status_code
    if 300 <= status < 400:
        return _woo_redirect(shop, response)
    if status == 404:
        return _woo_not_found(shop, response)
    if status in (401, 403):
        return _woo_auth(shop, response)
    if http.is_html(response):
        title = html_title(response)
        return verdict(
            False,
            f"got an HTML page{' (“' + title + '”)' if title else ''} instead of JSON (HTTP {status}): a security "
            "plugin, a firewall, a maintenance/coming-soon page or a wrong shop URL is answering instead of "
            "WooCommerce",
            f"open {shop.url}/wp-json/wc/v3/ in a browser to see who answers: allow this server in "
            "the security plugin or firewall, switch off maintenance mode, or fix woocommerce.url",
            http_status=status,
        )
    if status == 429:
        return verdict(False, "the shop's host rate-limits this server (HTTP 429)", "try again later")
    if status >= 500:
        code, message = rest_error(response)
        return verdict(
            False,
            f"the shop answered HTTP {status}{' ' + code + ': ' + message if code else ''} (a PHP error, an "
            "overloaded server or maintenance)",
            "look at the shop's PHP error log, then try again",
            http_status=status,
        )
    if not 200 <= status < 300:
        code, message = rest_error(response)
        return verdict(
            False, f"unexpected HTTP {status} {code}: {message}".rstrip(": "), "", http_status=status
        )
    if not isinstance(http.json_body(response), list):
        return verdict(
            False,
            "the answer is JSON but not WooCommerce's orders list",
            "set woocommerce.url to the WordPress site address (without /wp-json)",
            http_status=status,
        )
    return None

