"""Keeps secrets out of every log line, exception text and status output.

Configuration registers every secret value it loads; ``redact`` replaces them wherever they
appear in text. URLs lose their query string (WooCommerce OAuth parameters, ShopBack's
token) and their user-info before they are shown anywhere.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_MINIMUM_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Values that look like credentials even when nobody registered them.
_PREFIXED_CREDENTIAL = re.compile(
    # Not after a dot: "gotrack.api_secret: required" is a config location, not a value.
    r"((?i:authorization:\s*\w+\s+)|(?<![\w.])(?i:consumer_secret|consumer_key|oauth_signature|security_token"
    r"|api_secret|x-api-key)[=:]\s*)[^\s&'\"]+"
)
_BARE_WOOCOMMERCE_KEY = re.compile(r"\b(?:cs|ck)_[0-9a-f]{20,}")


def register(*values: str | None) -> None:
    """Remember secret values so that ``redact`` masks them from now on."""
    global _pattern
    with _lock:
        for value in values:
            if value and len(value.strip()) >= _MINIMUM_SECRET_LENGTH:
                _secrets.add(value)
                _secrets.add(value.strip())
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and credential-shaped value masked."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _PREFIXED_CREDENTIAL.sub(lambda match: match.group(1) + MASK, text)
    return _BARE_WOOCOMMERCE_KEY.sub(MASK, text)


def safe_url(url: str) -> str:
    """The URL without user-info and query string: safe to log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # out of range or not a number: digits shown as written (a port is no secret)
        written = parts.netloc.rpartition(":")[2]
        port = written if written.isdigit() else "?"
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
