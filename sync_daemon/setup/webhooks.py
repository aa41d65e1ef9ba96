"""``sync-daemon webhooks install``: check the listener answers, generate the secret, store it after the install.

WooCommerce saves a webhook (201) even when its creation ping to the delivery URL fails, so the
shop says nothing about a listener that is not there. Install therefore asks the listener itself,
at the delivery URL, before anything is created: a ping of WooCommerce's own shape (any running
listener answers it), then a signed probe with the secret the config already has (200: the running
daemon verifies that secret; 401: it does not know it yet, so a reload is needed).

The secret goes into ``[server] woocommerce_secret`` of the config file (in place of the commented
example line, comments kept, ``0600``), or with ``--credentials-dir`` into the systemd credential
file ``server.woocommerce_secret`` — only once the webhooks exist. An existing secret is kept, so
re-running install never breaks the running daemon's verification.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import requests
import tomlkit

from sync_daemon import __version__
from sync_daemon.config import Settings, config_path
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.setup.connect import atomic_write
from sync_daemon.source.webhooks import signature

PROBE_TOPIC = "sync_daemon.probe"  # not an order topic: the listener answers 200 "ignored" and reads nothing
PROBE_TIMEOUT_SECONDS = 10.0
CREDENTIAL_FILE = "server.woocommerce_secret"
_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
_EXAMPLE_LINE = re.compile(r"^\s*#\s*woocommerce_secret\s*=")


@dataclass(frozen=True)
class ListenerCheck:
    """What the listener at the delivery URL answered: reachable at all, and whether it knows the secret."""

    reachable: bool
    detail: str = ""  # why not, in a few words
    knows_secret: bool | None = None  # None: not asked (the secret is new)


def current_or_new_secret(settings: Settings) -> tuple[str, bool]:
    """(secret, is_new): the configured webhook secret, or a freshly generated one not stored yet."""
    current = settings.server.woocommerce_secret.get_secret_value()
    return (current, False) if current else (secrets.token_urlsafe(32), True)


def check_listener(delivery_url: str, secret: str | None) -> ListenerCheck:
    """Ask the listener at ``delivery_url``; ``secret`` (when it is the configured one) is probed too."""
    headers = {"User-Agent": f"sync-daemon/{__version__} webhooks install"}
    try:
        answer = requests.post(delivery_url, data={"webhook_id": "0"}, headers=headers,
                               timeout=PROBE_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as error:
        return ListenerCheck(False, _network_reason(error))
    if answer.status_code != 200 or _result(answer) != "ping":
        return ListenerCheck(False, f"HTTP {answer.status_code} from something that is not the sync-daemon listener")
    if secret is None:
        return ListenerCheck(True)
    body = json.dumps({"probe": "sync-daemon webhooks install"}).encode()
    signed = {**headers, "Content-Type": "application/json", "X-WC-Webhook-Topic": PROBE_TOPIC,
              "X-WC-Webhook-Resource": "action", "X-WC-Webhook-Signature": signature(body, secret)}
    try:
        answer = requests.post(delivery_url, data=body, headers=signed, timeout=PROBE_TIMEOUT_SECONDS,
                               allow_redirects=False)
    except requests.RequestException as error:
        return ListenerCheck(False, _network_reason(error))
    return ListenerCheck(True, knows_secret=answer.status_code == 200)


def _result(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("result", "")) if isinstance(body, dict) else ""


def _network_reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.ConnectionError):
        return "nothing answers there (connection refused or no route)"
    if isinstance(error, requests.Timeout):
        return f"no answer within {PROBE_TIMEOUT_SECONDS:.0f} s"
    return type(error).__name__


def store_secret(secret: str, config_file: str | os.PathLike[str] | None,
                 credentials_dir: str | os.PathLike[str] | None) -> Path:
    """Store a new secret where the merchant asked; returns the file written."""
    if credentials_dir:
        directory = Path(credentials_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return atomic_write(directory / CREDENTIAL_FILE, secret + "\n", mode=0o600)
    path = config_path(config_file)
    if path is None:
        raise ConfigurationError("no config file to store the webhook secret in: pass --config or --credentials-dir")
    return atomic_write(path, with_secret(path.read_text(encoding="utf-8"), secret))


def secret_destination(config_file: str | os.PathLike[str] | None,
                       credentials_dir: str | os.PathLike[str] | None) -> Path:
    """Where ``store_secret`` would write (checked before anything is installed)."""
    if credentials_dir:
        return Path(credentials_dir) / CREDENTIAL_FILE
    path = config_path(config_file)
    if path is None or not path.is_file():
        raise ConfigurationError("no config file to store the webhook secret in: pass --config or --credentials-dir")
    return path


def with_secret(text: str, secret: str) -> str:
    """The TOML text with ``[server] woocommerce_secret`` set, in place of the commented example line."""
    literal = tomlkit.string(secret).as_string()
    lines = text.splitlines(keepends=True)
    section = ""
    for number, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
        elif section == "server" and _EXAMPLE_LINE.match(line):
            ending = "\n" if line.endswith("\n") else ""
            lines[number] = f"woocommerce_secret = {literal}{ending}"
            candidate = "".join(lines)
            server = tomlkit.parse(candidate).get("server")
            if server is not None and server.get("woocommerce_secret") == secret:
                return candidate
            break  # the example line sat where a key cannot go: set it as a key instead
    document = tomlkit.parse(text)
    if "server" not in document:
        document.add(tomlkit.nl())
        document.add("server", tomlkit.table())
    document["server"]["woocommerce_secret"] = secret  # type: ignore[index]
    return tomlkit.dumps(document)
