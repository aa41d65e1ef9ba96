"""Start-up checks of the files the daemon keeps: the config file's mode, the state directory.

Both hold secrets or customers' data, so loose permissions are said at start, in words a merchant
can act on.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

_GROUP_OTHER_READ_WRITE = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def check_config_permissions(path: str | os.PathLike[str]) -> str | None:
    """Warning text when the config file is readable or writable by group/others, else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # a missing or unreadable config is reported by the config loader, not here
    if mode & _GROUP_OTHER_READ_WRITE:
        return (
            f"config file {path} has mode {stat.S_IMODE(mode):04o}: group/others can read or change it, "
            f"and it holds secrets; run: chmod 600 {path}"
        )
    return None


def check_state_dir_writable(path: str | os.PathLike[str]) -> str | None:
    """Error text when the ledger directory cannot be created or is not writable, else None."""
    directory = Path(path)
    advice = (
        "under systemd keep StateDirectory=sync-daemon in the unit (systemd then creates it for the service "
        f"user); otherwise create it and give it to the user running the daemon: mkdir -p {directory} && "
        f"chown USER {directory} && chmod 700 {directory}"
    )
    if os.path.lexists(directory) and not os.path.isdir(directory):
        return f"state directory {directory} exists but is not a directory; {advice}"
    try:
        # 0700: the ledger holds customers' order data.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return f"state directory {directory} does not exist and cannot be created ({exc.strerror}); {advice}"
    try:
        # SQLite creates -journal/-wal files next to the ledger, so the directory itself must be writable.
        fd, probe = tempfile.mkstemp(prefix=".sync-daemon-write-check-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"state directory {directory} is not writable ({exc.strerror}); {advice}"
    return None


def state_directory_default() -> Path:
    """The ledger directory: $STATE_DIRECTORY (its first entry) under systemd, else ./state."""
    first = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(first) if first else Path("state")
