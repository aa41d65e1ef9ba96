"""URL helpers shared by settings validation and diagnostics (no settings imported here)."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.0/8, ::1 or localhost (simulators, tests)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, *, require_https: bool) -> str:
    """The URL stripped, or ValueError: absolute http(s), no query or fragment, https unless loopback."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if not _port_ok(parts):
        raise ValueError("has a port that is not a number from 1 to 65535")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query string or fragment")
    if parts.username is not None or parts.password is not None:
        # Sent as Basic auth by some clients, logged by others: keys and secrets have settings of their own.
        raise ValueError("must not carry a user name or password (user:password@): give the address alone")
    if require_https and parts.scheme != "https" and not is_loopback_url(value):
        raise ValueError("must use https:// (credentials travel with every request)")
    return value


def _port_ok(parts: SplitResult) -> bool:
    """True when the URL names no port or a usable one (urllib3 would quietly take port 0 as the default)."""
    try:
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return False
    return port is None or port > 0


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: what a browser sends as Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def https_base_url(value: str) -> str:
    """An API base URL as a setting: absolute, https unless loopback, without a trailing slash."""
    return check_url(value, require_https=True).rstrip("/")


# A settings field holding a platform's API base URL (the daemon adds the paths itself).
HttpsBaseUrl = Annotated[str, AfterValidator(https_base_url)]
