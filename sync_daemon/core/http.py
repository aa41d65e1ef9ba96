"""The one place that builds HTTP sessions and turns responses into the error classes.

Every connector sends through ``send`` and checks answers with ``raise_for_status``, so
timeouts, resets, 5xx and 429 mean the same thing on every platform, and no exception
text carries a URL's query string or a credential.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import time
import weakref
from collections.abc import Iterator
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth

from sync_daemon import __version__
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RateLimitedError, RetryableError
from sync_daemon.core.gate import DEFAULT_WAIT_SECONDS, SendGate
from sync_daemon.core.payload import StoredPayload
from sync_daemon.core.redaction import redact, safe_url

USER_AGENT = f"sync-daemon/{__version__}"
DEFAULT_TIMEOUT = 15.0
_DETAIL_LIMIT = 300  # characters of a platform's error body kept in messages and the ledger


class _PinnedTrustSession(requests.Session):
    """A session whose own CA bundle no environment variable replaces.

    With ``trust_env`` (kept when a proxy is configured) requests lets ``$REQUESTS_CA_BUNDLE`` win
    over the session's ``verify``; a connection's ``ca_bundle`` must hold for every request.
    """

    def merge_environment_settings(
        self, url: str | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """requests' merge, except that the session's CA bundle stands unless a request names another."""
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:
            merged["verify"] = self.verify
        return merged


def build_session(
    *, headers: dict[str, str] | None = None, auth: Any = None, pool_size: int = 8, ca_bundle: str = ""
) -> requests.Session:
    """A keep-alive session with our User-Agent; no automatic retries (the ledger retries).

    ``ca_bundle``: a PEM file of the authorities to trust instead of the system's (a private CA).
    """
    session = _PinnedTrustSession() if ca_bundle else requests.Session()
    # requests' own pools: keep-alive connections, up to pool_size per host (a destination's workers).
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    if headers:
        session.headers.update(headers)
    session.auth = auth
    # With trust_env, requests walks the whole environment on every request (proxies, no_proxy,
    # CA bundle, netrc): a large part of a request's CPU in a daemon sending thousands. Without a
    # proxy configured, the CA bundle is read once here instead; with one, requests' own per-host
    # no_proxy handling is kept. A ~/.netrc is never wanted: every platform has its own auth.
    if not any(name.lower().endswith("_proxy") and value for name, value in os.environ.items()):
        session.trust_env = False
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    if ca_bundle:
        session.verify = ca_bundle
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    platform: str,
    timeout: float = DEFAULT_TIMEOUT,
    gate: SendGate | None = None,
    **kwargs,
) -> requests.Response:
    """Send one request; network failures become ``RetryableError`` with a safe message.

    With a ``gate``, the request leaves only while the gate is open (``GateClosed`` otherwise), and
    an answer asking to wait (429, or 503 with Retry-After) closes it before anything parses it.
    A ``json`` body that is a ``StoredPayload`` goes out as its stored text, not encoded again.
    """
    with network_errors(platform, url, timeout):
        return request(session, method, url, platform=platform, timeout=timeout, gate=gate, **kwargs)


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    platform: str,
    timeout: float = DEFAULT_TIMEOUT,
    gate: SendGate | None = None,
    headers: dict[str, str | None] | None = None,
    params: Any = None,
    data: Any = None,
    json: Any = None,
    allow_redirects: bool = True,
) -> requests.Response:
    """``send`` with requests' own exceptions, for checks that tell TLS, DNS and timeouts apart."""
    if isinstance(json, StoredPayload):
        # Sent as the ledger's canonical text, byte for byte, not decoded and encoded again.
        headers = {"Content-Type": "application/json", **(headers or {})}  # what requests sets for json=
        data, json = json.text.encode(), None
    prepared = _prepare(session, method, url, headers=headers, params=params, data=data, json=json)
    # verify is given explicitly: with trust_env (a proxy configured) requests would let
    # $REQUESTS_CA_BUNDLE replace an unset one, and so the session's verify = False or its own bundle.
    settings = {"proxies": {}, "stream": False, "verify": session.verify, "cert": session.cert}
    if isinstance(session.verify, str) and prepared.url and prepared.url.startswith("http://"):
        # No TLS, so no CA bundle: given a path, requests would look up on disk whether it is a folder
        # (a system call, and a turn of the interpreter lock) for every request all the same.
        settings["verify"] = True
    if session.trust_env:
        settings = session.merge_environment_settings(prepared.url, {}, None, session.verify, session.cert)
    if gate is not None:
        gate.check(platform)  # as late as possible: the other threads' 429s count until here
    response = session.send(prepared, timeout=timeout, allow_redirects=allow_redirects, **settings)
    if gate is not None:
        _close_gate_if_asked(gate, response)
    return response


TEMPLATES_PER_SESSION = 32  # (method, URL, headers) kept per session; a platform uses a handful
_templates: weakref.WeakKeyDictionary[requests.Session, dict[tuple[Any, ...], tuple[Any, requests.PreparedRequest]]] = (
    weakref.WeakKeyDictionary()
)


def _prepare(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str | None] | None,
    params: Any,
    data: Any,
    json: Any,
) -> requests.PreparedRequest:
    """What ``Session.prepare_request`` builds, through requests' public API.

    A destination sends thousands of requests that differ only in their body. Preparing the method,
    URL, headers and auth (checking and quoting them, and the generic merging of the session's
    settings) is most of a request's CPU in requests; it is done once per (method, URL, headers)
    and the result copied (``PreparedRequest.copy``) for each body (``prepare_body``). Anything
    that could make two such requests differ takes the whole preparation: a query, session params
    or cookies, an auth that signs each request, an environment read per request (trust_env).
    """
    varies = params or session.params or "?" in url or session.trust_env or len(session.cookies)
    if varies or not _fixed_auth(session.auth):
        whole = requests.Request(method, url, headers=headers, params=params, data=data, json=json)
        return session.prepare_request(whole)
    per_session = _templates.get(session)
    if per_session is None or len(per_session) >= TEMPLATES_PER_SESSION:
        per_session = _templates[session] = {}
    key = (method, url, tuple(headers.items()) if headers else ())
    state = (tuple(session.headers.items()), session.auth)  # a changed header or key is never missed
    entry = per_session.get(key)
    if entry is None or entry[0] != state:
        entry = per_session[key] = (state, session.prepare_request(requests.Request(method, url, headers=headers)))
    prepared = entry[1].copy()
    prepared.prepare_body(data, None, json)
    return prepared


def _fixed_auth(auth: Any) -> bool:
    """No auth, or one whose header is the same on every request (Basic)."""
    return auth is None or type(auth) is HTTPBasicAuth


def _close_gate_if_asked(gate: SendGate, response: requests.Response) -> None:
    """A 429, or a 503 that names its wait, holds back every other request of the platform at once."""
    status = response.status_code
    if status not in (429, 503):
        return
    wait = parse_retry_after(response.headers.get("Retry-After"))
    if wait is None and status == 429:
        wait = DEFAULT_WAIT_SECONDS
    if wait is not None:
        gate.close_for(wait)


@contextlib.contextmanager
def network_errors(platform: str, url: str, timeout: float) -> Iterator[None]:
    """Turn requests' exceptions (which quote whole URLs) into ``RetryableError``.

    A URL that no request can ever reach (a port out of range, say) is the settings' fault, not the
    network's: ``ConfigurationError``, so the destination waits for a fixed config instead of each
    order being retried until dead.
    """
    try:
        yield
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema):
        raise ConfigurationError(f"{platform}: the URL {safe_url(url)} cannot be used; check its setting") from None
    except requests.exceptions.SSLError as error:
        raise RetryableError(f"{platform}: TLS error talking to {safe_url(url)}: {_reason(error)}") from None
    except requests.exceptions.Timeout:
        raise RetryableError(f"{platform}: no answer from {safe_url(url)} within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as error:
        raise RetryableError(f"{platform}: cannot connect to {safe_url(url)}: {_reason(error)}") from None
    except requests.exceptions.RequestException as error:
        raise RetryableError(f"{platform}: request to {safe_url(url)} failed: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    """A short cause without the URL that requests puts into its messages."""
    text = str(error)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.strip("()'\" ")
    if "Connection reset" in text or "ConnectionResetError" in text:
        return "connection reset by peer"
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "NameResolution" in text:
        return "host name not found (DNS)"
    if "RemoteDisconnected" in text or "without response" in text:
        return "connection closed without a response"
    return redact(text.split(" url: ")[0])[:_DETAIL_LIMIT]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def is_html(response: requests.Response) -> bool:
    """True when the server answered with an HTML page instead of JSON."""
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        return True
    # Sniff the first bytes only: ``response.text`` on a body without a charset would run
    # charset detection over all of it (a whole page of orders, every poll).
    return response.content[:256].lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def body_excerpt(response: requests.Response) -> str:
    """The start of a response body, secrets masked, for messages and the ledger."""
    return redact(" ".join(response.text.split()))[:_DETAIL_LIMIT]


def raise_for_status(response: requests.Response, *, platform: str, detail: str | None = None) -> None:
    """Raise the error class that fits a non-2xx answer; return quietly on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = detail or body_excerpt(response) or response.reason or ""
    message = f"{platform}: HTTP {status}: {detail}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimitedError(message, http_status=status, retry_after=retry_after)
    if status >= 500 or status in (408, 409, 425):
        raise RetryableError(message, http_status=status)
    if status in (401, 403):
        raise AuthError(message, http_status=status)
    if status in (400, 404, 405, 410, 413, 415, 422):
        raise PermanentError(message, http_status=status)
    raise RetryableError(message, http_status=status)
