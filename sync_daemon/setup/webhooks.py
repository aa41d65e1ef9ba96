"""``sync-daemon webhooks install``: generate the webhook secret, store it like the other secrets, install.

The secret goes into ``[server] woocommerce_secret`` of the config file (comments kept, ``0600``),
or with ``--credentials-dir`` into the systemd credential file ``server.woocommerce_secret``. An
existing secret is kept, so re-running install never breaks the running daemon's verification.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import tomlkit

from sync_daemon.config import Settings, config_path
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.setup.connect import atomic_write


def ensure_secret(settings: Settings, config_file: str | os.PathLike[str] | None,
                  credentials_dir: str | os.PathLike[str] | None) -> str:
    """The configured webhook secret, or a new one stored where the merchant asked."""
    current = settings.server.woocommerce_secret.get_secret_value()
    if current:
        return current
    secret = secrets.token_urlsafe(32)
    if credentials_dir:
        directory = Path(credentials_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(directory / "server.woocommerce_secret", secret + "\n", mode=0o600)
        return secret
    path = config_path(config_file)
    if path is None:
        raise ConfigurationError("no config file to store the webhook secret in: pass --config or --credentials-dir")
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    if "server" not in document:
        document.add(tomlkit.nl())
        document.add("server", tomlkit.table())
    document["server"]["woocommerce_secret"] = secret  # type: ignore[index]
    atomic_write(path, tomlkit.dumps(document))
    return secret
