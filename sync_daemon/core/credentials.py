"""systemd credentials: one file per secret, named ``<section>.<field>``, in ``$CREDENTIALS_DIRECTORY``.

Under the unit, systemd copies the ``LoadCredential=`` files there at each start. A command run from
a shell sees the same files when given the folder they are loaded from (``sync-daemon
--credentials-dir /etc/sync-daemon/credentials …``, which sets ``$CREDENTIALS_DIRECTORY``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic_settings import PydanticBaseSettingsSource

from sync_daemon.core.errors import ConfigurationError

CREDENTIALS_VARIABLE = "CREDENTIALS_DIRECTORY"
# Where the shipped unit's LoadCredential= lines, README and docs/systemd.md keep the files.
DEFAULT_CREDENTIALS_DIRECTORY = Path("/etc/sync-daemon/credentials")


def credentials_directory() -> Path | None:
    """The credentials folder in force ($CREDENTIALS_DIRECTORY), or None."""
    directory = os.environ.get(CREDENTIALS_VARIABLE)
    return Path(directory) if directory else None


def use_credentials_directory(directory: str | os.PathLike[str]) -> Path:
    """Read credentials from ``directory`` from now on, as the service reads its own; returns its absolute path."""
    path = Path(directory).absolute()
    os.environ[CREDENTIALS_VARIABLE] = str(path)
    return path


class CredentialsSource(PydanticBaseSettingsSource):
    """systemd credentials: ``$CREDENTIALS_DIRECTORY/<section>.<field>`` holds one secret."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads the whole directory at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = credentials_directory()
        if directory is None or not directory.is_dir():
            return {}
        values: dict[str, dict[str, str]] = {}
        for path in sorted(directory.iterdir()):
            section, dot, field = path.name.partition(".")
            if not dot or section not in self.settings_cls.model_fields or not path.is_file():
                continue
            # A trailing newline is what `echo secret > file` leaves; keep anything else intact
            # so that test-connection can point out a stray space.
            try:
                text = path.read_text(encoding="utf-8")
            except PermissionError:
                raise ConfigurationError(
                    f"credential file {path} is not readable by this user: run the command as root (sudo), "
                    "as systemd reads it for the service"
                ) from None
            values.setdefault(section, {})[field] = text.rstrip("\r\n")
        return values
