"""Value diagnostics: what is wrong with a pasted credential or URL, in plain words.

Everything here works on the raw values as the daemon will use them (secrets are never
stripped by the configuration, and the systemd credential reader keeps spaces), and nothing
here ever puts a value into a message: only its shape ("a space at the end", "40 characters").

It also turns the ``requests`` exceptions of a connection check into a cause and a fix
(TLS, timeouts, DNS, refused connections), for the shop and for every platform alike.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from sync_daemon.core.redaction import redact, safe_url
from sync_daemon.core.settings import ENV_PREFIX
from sync_daemon.core.urls import is_loopback_url

# What password fields and "hidden" dashboard values show instead of the secret.
MASK_CHARACTERS = frozenset("•●∙·⋅◦○◉⬤⚫*✱＊")
# Whitespace a paste can bring along that str.strip() alone does not all know about.
INVISIBLE = {
    "\u200b": "a zero-width space",
    "\u200c": "a zero-width non-joiner",
    "\u200d": "a zero-width joiner",
    "\u2060": "a word joiner",
    "\ufeff": "a byte-order mark",
    "\u00a0": "a non-breaking space",
}
_WHITESPACE_NAMES = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return"}
# The example values of config.example.toml and the usual "fill me in" shapes.
_PLACEHOLDER = re.compile(
    r"(?i)^(ck_your_key|cs_your_secret|fbc_your_key|your_api_secret)$|your[_ -]|x{6,}|^<.*>$|changeme"
)
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "`": "`"}


@dataclass(frozen=True)
class Finding:
    """One problem with one setting: what is wrong and what to do."""

    field: str  # "gotrack.api_secret"
    problem: str
    fix: str
    fatal: bool = True  # the value cannot work as it is (no request is worth sending)
    suggestion: str = ""  # the value to use instead, when it is certain (``connect`` offers it)

    def text(self) -> str:
        """One line: field, problem, fix."""
        return f"{self.field} {self.problem} — {self.fix}"


def _char_name(char: str) -> str:
    if char in _WHITESPACE_NAMES:
        return _WHITESPACE_NAMES[char]
    if char in INVISIBLE:
        return INVISIBLE[char]
    try:
        return f"“{char}” ({unicodedata.name(char).lower()})"
    except ValueError:
        return f"the character U+{ord(char):04X}"


def _is_blank(char: str) -> bool:
    return char.isspace() or char in INVISIBLE


def trim(value: str) -> tuple[str, list[str]]:
    """The value without surrounding whitespace, invisible characters or quotes; and what was removed."""
    removed: list[str] = []
    tail: list[str] = []
    start, end = 0, len(value)
    while start < end and _is_blank(value[start]):
        removed.append(f"{_char_name(value[start])} at the start")
        start += 1
    while end > start and _is_blank(value[end - 1]):
        tail.append(f"{_char_name(value[end - 1])} at the end")
        end -= 1
    removed.extend(reversed(tail))  # in reading order
    core = value[start:end]
    if len(core) >= 2 and _QUOTES.get(core[0]) == core[-1]:
        removed.append("the quotes around it")
        core, _ = trim(core[1:-1])
    return core, _dedupe(removed)


def _dedupe(items: list[str]) -> list[str]:
    counted: dict[str, int] = {}
    for item in items:
        counted[item] = counted.get(item, 0) + 1
    return [item if count == 1 else f"{item} (×{count})" for item, count in counted.items()]


def looks_masked(value: str) -> bool:
    """True when the value is (mostly) bullets or asterisks: copied from a hidden field."""
    stripped = "".join(char for char in value if not _is_blank(char))
    if not stripped:
        return False
    masked = sum(1 for char in stripped if char in MASK_CHARACTERS)
    return masked >= 3 and (masked * 2 >= len(stripped) or re.search(r"[•●∙·⋅◦*]{3,}", stripped) is not None)


def value_findings(field: str, value: str, *, label: str, where: str = "") -> list[Finding]:
    """Problems of a key or secret as pasted: empty, masked, placeholder, whitespace, odd characters."""
    place = f" ({where})" if where else ""
    copy_again = f"copy the {label} again from the dashboard"
    if not value:
        return [Finding(field, f"is empty{place}", f"paste the {label}")]
    if looks_masked(value):
        return [
            Finding(
                field,
                f"was pasted as bullet characters (••••){place}: that is what a hidden field shows, not the {label}",
                f"click Show (or the eye icon) next to the {label} in the dashboard, then copy it, or use its Copy "
                "button",
            )
        ]
    core, removed = trim(value)
    if _PLACEHOLDER.search(core):
        return [Finding(field, f"still holds the example placeholder{place}", f"paste your real {label}")]
    found = []
    if removed:
        found.append(
            Finding(
                field,
                f"has {' and '.join(removed)}{place} (it came along with the paste)",
                f"remove it: the platform compares the {label} character by character",
            )
        )
    inner_blanks = [char for char in core if _is_blank(char)]
    if inner_blanks:
        found.append(
            Finding(
                field,
                f"contains {_char_name(inner_blanks[0])} in the middle{place} (pasted across two lines?)",
                copy_again + " in one piece",
            )
        )
    odd = [char for char in core if not _is_blank(char) and not (char.isascii() and char.isprintable())]
    if odd:
        found.append(
            Finding(
                field,
                f"contains {_char_name(odd[0])}{place}, which no API key or secret has (a word processor or chat "
                "app changed it?)",
                copy_again + " straight from the dashboard",
            )
        )
    return found


# -- where a value comes from --------------------------------------------------------------


def value_source(section: str, key: str, config_file: Path | None) -> str:
    """Where the daemon reads ``section.key`` from, strongest source first (for messages)."""
    wanted = f"{ENV_PREFIX}{section}__{key}".lower()
    for name in os.environ:
        if name.lower() == wanted:
            return f"from ${name}"
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory and (Path(directory) / f"{section}.{key}").is_file():
        return f"in credential file {Path(directory) / f'{section}.{key}'}"
    # Only a file that exists holds the value (``connect --config new.toml`` is about to create it).
    return f"in {config_file}" if config_file and Path(config_file).is_file() else ""


# -- URLs ------------------------------------------------------------------------------------


def url_path(url: str) -> str:
    """The path of a URL without a trailing slash."""
    return urlsplit(url).path.rstrip("/")


def plain_http(url: str) -> bool:
    """True for an http:// URL that is not on this machine."""
    return urlsplit(url).scheme == "http" and not is_loopback_url(url)


def html_title(response: requests.Response) -> str:
    """The <title> of an HTML answer (masked, shortened), or "" when it has none."""
    match = re.search(r"<title[^>]*>(.*?)</title>", response.text[:20000], re.IGNORECASE | re.DOTALL)
    return redact(html.unescape(" ".join(match.group(1).split())))[:80] if match else ""


def redirect_target(response: requests.Response) -> str:
    """The absolute URL a 3xx answer points to ("" when it has no Location)."""
    location = response.headers.get("Location", "")
    return urljoin(response.url, location) if location else ""


# -- network failures ------------------------------------------------------------------------


# The CA bundle of each connection being checked, by settings section ({"gotrack": "/etc/…/ca.pem"}).
# The test-connection runner sets it around a check (``trusting``), so every check's TLS diagnosis
# knows which bundle was in force without each check passing it on.
_CA_BUNDLES: ContextVar[dict[str, str] | None] = ContextVar("ca_bundles", default=None)


@contextlib.contextmanager
def trusting(bundles: dict[str, str]) -> Iterator[None]:
    """Within the block, TLS diagnoses know the CA bundle of each section (empty: none set)."""
    token = _CA_BUNDLES.set({section: path for section, path in bundles.items() if path})
    try:
        yield
    finally:
        _CA_BUNDLES.reset(token)


def network_failure(
    error: requests.RequestException, url: str, timeout: float, *, setting: str, ca_bundle: str | None = None
) -> tuple[str, str]:
    """(cause, what to do) for an exception raised while sending a request to ``url``.

    ``ca_bundle``: the PEM file the request trusted; by default the one ``trusting`` names for
    the section of ``setting``.
    """
    host = urlsplit(url).hostname or "the host"
    port = urlsplit(url).port
    shown = safe_url(url)
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        section = setting.split(".", 1)[0]
        bundle = (_CA_BUNDLES.get() or {}).get(section, "") if ca_bundle is None else ca_bundle
        return _tls_failure(text, host, shown, setting, bundle)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return (
            f"could not even connect to {host} within {timeout:g} s",
            f"check {setting} and that this machine may connect out (a firewall dropping the connection?)",
        )
    if isinstance(error, requests.exceptions.Timeout):
        return (
            f"{host} accepted the connection but sent no answer within {timeout:g} s",
            "the server is overloaded or a plugin is slow; try again, or raise timeout_seconds in that section",
        )
    if isinstance(error, requests.exceptions.InvalidHeader):
        return (
            "a credential contains a character that cannot be sent in an HTTP header (a space or a line break?)",
            "copy it again from the dashboard",
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        if any(marker in text for marker in ("Name or service not known", "nodename nor servname", "NameResolution",
                                             "Temporary failure in name resolution", "No address associated",
                                             "getaddrinfo failed")):
            return (
                f"the host name {host} was not found (DNS)",
                f"check the spelling of {setting}; a new domain can take a while to appear in DNS",
            )
        if "Connection refused" in text:
            where = f"port {port}" if port else "the https/http port"
            return (f"{host} refused the connection on {where}", f"check {setting} (host and port)")
        if "Connection reset" in text or "RemoteDisconnected" in text or "without response" in text:
            return (
                f"{host} closed the connection without an answer",
                "a firewall or proxy in between may be blocking this machine; try again later",
            )
        if "Network is unreachable" in text or "No route to host" in text:
            return (f"no network route to {host}", "check this machine's network connection")
    reason = redact(text.split(" url: ")[0])[:200]
    return (f"the request to {shown} failed: {reason}", f"check {setting} and the network")


def _tls_failure(text: str, host: str, shown: str, setting: str, bundle: str) -> tuple[str, str]:
    lowered = text.lower()
    section = setting.split(".", 1)[0]
    if "wrong version number" in lowered or "unknown protocol" in lowered or "record layer failure" in lowered:
        return (
            f"{shown} does not speak https on that port (TLS handshake failed: wrong version number)",
            f"check {setting}: use http:// only for a server without TLS, or the port that serves https",
        )
    if "certificate has expired" in lowered:
        return (f"the TLS certificate of {host} has expired", "renew the certificate (e.g. Let's Encrypt)")
    if "hostname mismatch" in lowered or "doesn't match" in lowered or "not valid for" in lowered:
        return (
            f"the TLS certificate of {host} is made out for another name",
            f"use the exact address the certificate covers in {setting} (with or without www.)",
        )
    untrusted = ("self-signed", "self signed", "unable to get local issuer", "certificate verify failed")
    if bundle and any(marker in lowered for marker in untrusted):
        kind = " (it is self-signed)" if "self" in lowered and "signed" in lowered else ""
        return (
            f"the TLS certificate of {host}{kind} is not signed by an authority in {section}.ca_bundle ({bundle})",
            f"put the certificate of the authority that issued it — for a self-signed certificate, the certificate "
            f"itself — into {bundle} (PEM)",
        )
    # The way to trust a private or self-signed authority, before switching checks off (the shop only).
    trust = f"set {section}.ca_bundle to the PEM file of the certificate (or of the authority that issued it)"
    if section == "woocommerce":
        trust += "; only for a test shop: verify_tls = false"
    if "self-signed" in lowered or "self signed" in lowered:
        return (
            f"the TLS certificate of {host} is self-signed, so it cannot be trusted",
            f"install a certificate from a public authority (e.g. Let's Encrypt), or, if you trust it, {trust}",
        )
    if "unable to get local issuer" in lowered:
        return (
            f"the TLS certificate of {host} cannot be traced to a trusted authority (the server does not send "
            "its intermediate certificate, or the issuer is private)",
            f"install the full certificate chain on the server; for a private authority, {trust}",
        )
    if "certificate verify failed" in lowered:
        return (
            f"the TLS certificate of {host} is not trusted",
            f"install a valid certificate on the server, or {trust}",
        )
    return (f"TLS handshake with {host} failed", f"check that {setting} is right and the server's TLS setup")
