"""Start-up checks of the files the daemon keeps: the config file's mode, the state directory, its lock.

The first two hold secrets or customers' data, so loose permissions are said at start, in words a
merchant can act on. The lock keeps a second daemon off a ledger that one is already delivering from.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from sync_daemon.core.errors import ConfigurationError

LOCK_FILE_NAME = "daemon.lock"

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


def _state_dir_advice(directory: Path) -> str:
    return (
        "under systemd keep StateDirectory=sync-daemon in the unit (systemd then creates it for the service "
        f"user); otherwise create it and give it to the user running the daemon: mkdir -p {directory} && "
        f"chown USER {directory} && chmod 700 {directory}, or set state_dir"
    )


def check_state_dir_writable(path: str | os.PathLike[str]) -> str | None:
    """Error text when the ledger directory cannot be created or is not writable, else None."""
    directory = Path(path)
    advice = _state_dir_advice(directory)
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


# The unit's StateDirectory=sync-daemon: a command in a root shell finds the service's ledger here.
DEFAULT_STATE_DIRECTORY = Path("/var/lib/sync-daemon")
LEDGER_FILE_NAME = "ledger.sqlite3"


def state_dir_problem(path: str | os.PathLike[str]) -> str | None:
    """``check_state_dir_writable`` without creating anything: for ``check-config``, which only looks."""
    directory = Path(path).absolute()
    existing = directory
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent  # the nearest part that exists: mkdir -p starts there
    if existing == directory:  # it exists: the same probe as at start (a temporary file, removed at once)
        return None if _writable_directory(directory) else check_state_dir_writable(directory)
    if _writable_directory(existing):
        return None
    return (
        f"state directory {directory} does not exist and cannot be created ({existing} is not a directory this user"
        f" may write); {_state_dir_advice(directory)}"
    )


def _writable_directory(path: Path) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def state_directory_default() -> Path:
    """The ledger directory without ``state_dir``: $STATE_DIRECTORY (its first entry), else /var/lib/sync-daemon.

    One rule for the service and every command, whoever runs it and from wherever: never the
    current directory, where a command would find (or make) a ledger the service does not use.
    """
    first = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(first) if first else DEFAULT_STATE_DIRECTORY


def missing_ledger(directory: str | os.PathLike[str]) -> str | None:
    """Error text when the state directory holds no SQLite ledger (a command that must not create one)."""
    path = Path(directory).absolute() / LEDGER_FILE_NAME
    try:
        if path.is_file():
            return None
    except OSError:  # a directory this user may not enter: opening says why
        return None
    return (
        f"there is no ledger at {path}: the daemon creates it when it first runs. If the daemon keeps its "
        f"ledger elsewhere, set state_dir in the config file (default: $STATE_DIRECTORY, else "
        f"{DEFAULT_STATE_DIRECTORY}) or pass that config with --config"
    )


class StateDirectoryInUse(ConfigurationError):
    """Another daemon holds the state directory's lock."""

    def __init__(self, directory: Path, holder: str) -> None:
        super().__init__(
            f"another sync-daemon (pid {holder}) is already running on the ledger in {directory}; two daemons "
            "on one ledger would send the same orders twice. Stop that one first (systemctl stop sync-daemon), "
            "or give this one a state_dir of its own"
        )
        self.directory = directory
        self.holder = holder  # the PID written in the lock file, or "unknown"


class DaemonLock:
    """An exclusive ``flock`` on the state directory itself, held for the daemon's life.

    The directory, not a file in it, is locked: a lock file can be deleted under its holder (a
    cleanup script), after which a second daemon would lock a new file of the same name and deliver
    from the same ledger; a directory holding the ledger cannot be replaced that way. The kernel
    releases the lock when the process ends in any way (``kill -9`` and crashes included), so there
    is never a stale lock to clean up. ``daemon.lock`` beside the ledger only names the holder's PID.
    """

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Give the lock up (closing the directory releases it); a second call does nothing."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)


def _holder(directory: Path) -> str:
    """The PID the last holder wrote into ``daemon.lock`` ("unknown" when the file is gone)."""
    try:
        return (directory / LOCK_FILE_NAME).read_text(errors="replace").strip()[:32] or "unknown"
    except OSError:
        return "unknown"


def lock_state_directory(directory: str | os.PathLike[str]) -> DaemonLock:
    """Take the state directory's lock, or raise ``StateDirectoryInUse`` naming the PID that holds it."""
    problem = check_state_dir_writable(directory)  # creates it when missing
    if problem:
        raise ConfigurationError(problem)
    directory = Path(directory)
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise StateDirectoryInUse(directory, _holder(directory)) from None
    except BaseException:
        os.close(descriptor)
        raise
    # The PID is for people reading the message; the lock is what counts. Written only once the
    # lock is held, so a refused daemon never overwrites the holder's PID.
    with contextlib.suppress(OSError):
        pid_file = os.open(directory / LOCK_FILE_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(pid_file, f"{os.getpid()}\n".encode())
        finally:
            os.close(pid_file)
    return DaemonLock(directory, descriptor)
