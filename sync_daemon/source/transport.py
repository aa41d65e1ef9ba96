"""One keep-alive session to the shop, authenticated exactly as the official ``woocommerce`` client does.

The official client (``woocommerce.API``) sends every call through ``requests.request``: a new
session, and so a new TCP (and TLS) connection, per call. This sends through one pooled session
(``core.http.build_session``) and keeps the client's authentication:

- over ``https://``: HTTP Basic auth with the consumer key and secret (the client's default);
- over ``http://``: one-legged OAuth 1.0a in the query string, with the signature the client's own
  signer computes (``woocommerce.oauth.OAuth``: HMAC-SHA256 over the method, the URL and every
  parameter, with a fresh timestamp and nonce per request; tests compare the two). The base string
  is built here with each parameter's encoding remembered, since most of them (``_fields`` above
  all) are the same on every poll; a parameter name with ``[`` goes to the client's signer as is.
  The query goes out once; the official client appends it a second time, which WordPress drops
  (PHP's ``$_GET`` keeps one value per key), so the same signature checks out.

Requests are prepared here rather than by ``Session.request``: a signed URL differs on every
request, and requests would parse and re-quote each one, character by character in Python (with
``_fields`` the query runs to several hundred characters). The base URL is normalized once; what
is appended (an ASCII endpoint and ``urlencode``'s output) needs no quoting. With a proxy in the
environment, ``Session.request`` sends as usual, so its per-host proxy rules apply.

A signed URL carries its signature in the query string: messages only ever name ``safe_url`` of it.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from base64 import b64encode
from functools import lru_cache
from hashlib import sha256
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote

import requests
from requests.auth import HTTPBasicAuth
from requests.cookies import RequestsCookieJar
from requests.hooks import default_hooks
from woocommerce.oauth import OAuth

from sync_daemon.core import http

if TYPE_CHECKING:
    from sync_daemon.source.settings import WooCommerceSettings

API_VERSION = "wc/v3"
JSON_BODY_HEADERS = {"Content-Type": "application/json;charset=utf-8"}  # what the official client sends
POOL_SIZE = 4  # the poll, write-back and a connection check at most share the shop at once
# Commas stay as they are in a query (RFC 3986 sub-delimiters): ``_fields`` lists keep short.
QUERY_SAFE = ","


class ShopTransport:
    """Sends requests to the shop's REST API over one keep-alive session."""

    def __init__(self, settings: WooCommerceSettings, *, platform: str) -> None:
        self.platform = platform
        self.timeout = settings.timeout_seconds
        normalized = requests.PreparedRequest()
        normalized.prepare_url(f"{settings.url.rstrip('/')}/wp-json/{API_VERSION}/", None)  # IDNA, quoting
        self.base_url = normalized.url or ""
        self.consumer_key = settings.consumer_key.get_secret_value()
        self.consumer_secret = settings.consumer_secret.get_secret_value()
        self.signs_urls = not settings.url.startswith("https")  # the official client's own test
        basic = None if self.signs_urls else HTTPBasicAuth(self.consumer_key, self.consumer_secret)
        # The shop's own CA bundle (a private authority) applies only while certificates are checked.
        self.session = http.build_session(
            auth=basic, pool_size=POOL_SIZE, ca_bundle=settings.ca_bundle if settings.verify_tls else ""
        )
        if not settings.verify_tls:
            self.session.verify = False

    def send(
        self, method: str, endpoint: str, *, params: dict[str, Any] | None = None, data: Any = None
    ) -> requests.Response:
        """One request; network failures become ``RetryableError`` naming the endpoint without its query."""
        url = self.base_url + endpoint
        with http.network_errors(self.platform, url, self.timeout):
            return self.send_raw(method, endpoint, params=params, data=data)

    def send_raw(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        data: Any = None,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """One request with requests' own exceptions, for checks that tell TLS, DNS and timeouts apart."""
        method = method.upper()
        url = self.signed_url(method, endpoint, params)
        body = None if data is None else json.dumps(data, ensure_ascii=False).encode("utf-8")
        headers = JSON_BODY_HEADERS if body is not None else None
        session = self.session
        if session.trust_env:
            # A proxy is configured: requests reads the environment per request (proxies, no_proxy);
            # verify is passed so that $REQUESTS_CA_BUNDLE cannot replace verify_tls = false.
            return session.request(
                method, url, data=body, headers=headers, timeout=self.timeout,
                allow_redirects=allow_redirects, verify=session.verify,
            )
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url
        prepared.headers = session.headers.copy()
        if headers:
            prepared.headers.update(headers)
        prepared._cookies = RequestsCookieJar()  # noqa: SLF001 - as PreparedRequest.prepare_cookies leaves it
        prepared.hooks = default_hooks()
        prepared.body = body
        prepared.prepare_content_length(body)
        if session.auth is not None:
            prepared.prepare_auth(session.auth)
        return session.send(
            prepared,
            timeout=self.timeout,
            allow_redirects=allow_redirects,
            verify=session.verify,
            cert=session.cert,
            proxies={},
            stream=False,
        )

    def signed_url(self, method: str, endpoint: str, params: dict[str, Any] | None) -> str:
        """The full URL of a request: its query, and over http the OAuth 1.0a parameters and signature."""
        url = self.base_url + endpoint
        # As urlencode would write each value (and so as the official client's signer sees it).
        query = {name: value if isinstance(value, str) else str(value) for name, value in (params or {}).items()}
        if not self.signs_urls:
            return f"{url}?{_query_string(query)}" if query else url
        query.update(
            oauth_consumer_key=self.consumer_key,
            oauth_timestamp=str(int(time.time())),
            oauth_nonce=secrets.token_hex(20),  # 40 hex digits, as the client's own nonces
            oauth_signature_method="HMAC-SHA256",
        )
        query["oauth_signature"] = oauth_signature(method, url, query, self.consumer_secret)
        return f"{url}?{_query_string(query)}"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


@lru_cache(maxsize=256)
def _query_pair(name: str, value: str) -> str:
    """``name=value`` as ``urlencode(…, safe=QUERY_SAFE)`` writes it."""
    return f"{quote_plus(name, QUERY_SAFE)}={quote_plus(value, QUERY_SAFE)}"


def _query_string(query: dict[str, str]) -> str:
    return "&".join([_query_pair(name, value) for name, value in query.items()])


@lru_cache(maxsize=256)
def _signed_pair(name: str, value: str) -> str:
    """One parameter of the signature base string, as ``OAuth.normalize_parameters`` encodes it."""
    return f"{quote(unquote(name)).replace('%', '%25')}%3D{quote(unquote(value)).replace('%', '%25')}"


def oauth_signature(method: str, url: str, params: dict[str, str], consumer_secret: str) -> str:
    """The signature ``woocommerce.oauth.OAuth(version="wc/v3").generate_oauth_signature`` computes.

    Parameters sorted by name, each encoded, joined with encoded ``&``; HMAC-SHA256 keyed with the
    consumer secret and ``&``. Names with ``[`` (which the client sorts by their stem) go to the
    client's signer.
    """
    params = {name: value for name, value in params.items() if name != "oauth_signature"}
    if any("[" in name for name in params):
        signer = OAuth(url=url, consumer_key="", consumer_secret=consumer_secret, version=API_VERSION, method=method)
        return signer.generate_oauth_signature(params, url)
    pairs = "%26".join([_signed_pair(name, params[name]) for name in sorted(params)])
    base = f"{method}&{quote(url, '')}&{pairs}"
    digest = hmac.new(f"{consumer_secret}&".encode(), base.encode(), sha256).digest()
    return b64encode(digest).decode()
