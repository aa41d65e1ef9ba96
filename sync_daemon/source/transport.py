"""One keep-alive session to the shop, authenticated exactly as the official ``woocommerce`` client does.

The official client (``woocommerce.API``) sends every call through ``requests.request``: a new
session, and so a new TCP (and TLS) connection, per call. This sends through one pooled session
(``core.http.build_session``, one send path: ``core.http.request``) and keeps the client's
authentication:

- over ``https://``: HTTP Basic auth with the consumer key and secret (the client's default);
- over ``http://``: one-legged OAuth 1.0a in the query string, signed by the client's own signer
  (``woocommerce.oauth.OAuth.get_oauth_url``: HMAC-SHA256 over the method, the URL and every
  parameter, with a fresh timestamp and nonce per request). The query goes out once, in the signed
  URL; the official client also passes it to requests a second time, which WordPress drops (PHP's
  ``$_GET`` keeps one value per key), so the same signature checks out either way.

A signed URL carries its signature in the query string: messages only ever name ``safe_url`` of it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from requests.auth import HTTPBasicAuth
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
        body = None if data is None else json.dumps(data, ensure_ascii=False).encode("utf-8")
        return http.request(
            self.session,
            method,
            self.signed_url(method, endpoint, params),
            platform=self.platform,
            timeout=self.timeout,
            data=body,
            headers=JSON_BODY_HEADERS if body is not None else None,
            allow_redirects=allow_redirects,
        )

    def signed_url(self, method: str, endpoint: str, params: dict[str, Any] | None) -> str:
        """The full URL of a request: its query, and over http the OAuth 1.0a parameters and signature."""
        url = self.base_url + endpoint
        query = urlencode(params or {}, safe=QUERY_SAFE)
        if query:
            url = f"{url}?{query}"
        if not self.signs_urls:
            return url
        signer = OAuth(
            url=url,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            version=API_VERSION,
            method=method,
        )
        return signer.get_oauth_url()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

