"""``sync-daemon connect NAME``: the "Save" half of "Save & Test Connection".

Asks for the endpoint, key and secret of one connection (secrets without echo; also taken from
options, or from stdin one per line when stdin is not a terminal), trims what a paste brings
along (spaces, newlines, invisible characters, quotes) and says so, refuses values that cannot
work (bullets from a hidden field, a placeholder, a key without its prefix), runs the same check
as ``test-connection`` and only when it passes writes the values into the config file:

- with ``tomlkit``, so every comment, the key order and the other sections stay as they were;
- atomically: a temporary file in the same directory, fsync, rename over the old file (a crash
  leaves the old file or the new one, never half of one); the file is then ``0600`` and, when
  root edits a file owned by the service user, keeps its owner;
- refusing to write when the file changed on disk while the check ran (nothing is lost);
- with ``--credentials-dir DIR`` each secret becomes the credential file ``DIR/<section>.<key>``
  (``0600``, same atomic write) for systemd's ``LoadCredential=``, and is removed from the TOML.

A platform is also switched on (``enabled = true``). The daemon reads the new values on reload
(SIGHUP, ``systemctl reload sync-daemon``) or restart; a platform paused for rejected credentials
resumes then, because its settings fingerprint changed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
import tomlkit
from pydantic import SecretStr, ValidationError
from tomlkit.exceptions import TOMLKitError

from sync_daemon.config import DEFAULT_CONFIG_PATH, SettingsBase, config_path, describe_validation_error, settings_model
from sync_daemon.core import redaction
from sync_daemon.core.credentials import DEFAULT_CREDENTIALS_DIRECTORY
from sync_daemon.core.diagnose import trim, value_findings, value_source
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.redaction import redact
from sync_daemon.platforms.base import Field
from sync_daemon.setup.checks import Connection, Context, check_one, connections, format_line, preflight

ROLES = ("endpoint", "key", "secret", "extra")
HEADER = "sync-daemon configuration (every key, commented: sync-daemon config-example)"


OPTIONS = {"endpoint": "--endpoint", "key": "--key", "secret": "--secret", "extra": "--origin"}


def _connection(name: str) -> Connection:
    known = connections(settings_model())
    if name not in known:
        raise ConfigurationError(f"unknown connection {name!r} (known: {', '.join(known)})")
    return known[name]


def _default(section: str, key: str) -> str:
    """A setting's built-in default, for the prompt (never a secret: only asked for visible fields)."""
    factory = settings_model().model_fields[section].default_factory
    value = getattr(factory(), key, "") if factory is not None else ""
    return value if isinstance(value, str) else ""


def _read_document(path: Path) -> tuple[str | None, tomlkit.TOMLDocument]:
    """The file's text (None when it does not exist yet) and its tomlkit document."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        document = tomlkit.document()
        document.add(tomlkit.comment(HEADER))
        return None, document
    except PermissionError:
        raise ConfigurationError(f"config file {path} is not readable by this user (use sudo?)") from None
    try:
        return text, tomlkit.parse(text)
    except TOMLKitError as error:
        raise ConfigurationError(f"config file {path} is not valid TOML: {error}") from None


def _current(document: tomlkit.TOMLDocument, section: str, key: str) -> str:
    table = document.get(section)
    value = table.get(key) if hasattr(table, "get") else None
    return str(value) if value is not None else ""


class Asker:
    """Gets the values not given as options: prompts on a terminal, else one line each from stdin."""

    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stdin
        self.interactive = self.stream.isatty() if interactive is None else interactive

    def __call__(self, connection: Connection, item: Field, current: str) -> str | None:
        """The value typed or read, or None to keep the current one."""
        if not self.interactive:
            if item.role == "extra":
                return None  # extras only come as options in scripts
            line = self.stream.readline()
            value = line[:-1] if line.endswith("\n") else line
            value = value[:-1] if value.endswith("\r") else value
            return value or None
        label = f"{connection.spec.title} {item.label}"
        if item.hidden:
            suffix = " (input hidden; Enter keeps the current one)" if current else " (input hidden)"
            value = click.prompt(label + suffix, default="", show_default=False, hide_input=True)
        else:
            value = click.prompt(label, default=current or "", show_default=bool(current))
        return value if value and value != current else None

    def confirm(self, question: str) -> bool:
        """Yes or no on a terminal (Enter: yes); never asked in scripts, which get the suggestion printed."""
        return self.interactive and click.confirm(question, default=True)


def _collect(
    connection: Connection,
    document: tomlkit.TOMLDocument,
    given: dict[str, str | None],
    ask: Callable[[Connection, Field, str], str | None],
) -> dict[str, str]:
    """role option or answer for every field; only the values that change."""
    values: dict[str, str] = {}
    for item in connection.spec.fields:
        value = given.get(item.role)
        if value is None:
            current = "" if item.hidden else (
                _current(document, connection.name, item.key) or _default(connection.name, item.key)
            )
            value = ask(connection, item, current)
        if value is not None:
            values[item.key] = value
    return values


def clean(connection: Connection, values: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Trimmed values and notes on what was trimmed; raise ConfigurationError for values that cannot work."""
    cleaned: dict[str, str] = {}
    notes: list[str] = []
    problems: list[str] = []
    for item in connection.spec.fields:
        if item.key not in values:
            continue
        raw = values[item.key]
        value, removed = trim(raw)
        if removed:
            notes.append(f"{connection.name}.{item.key}: removed {' and '.join(removed)}")
        if item.kind != "url":
            dotted = f"{connection.name}.{item.key}"
            problems.extend(finding.text() for finding in value_findings(dotted, value, label=item.label))
        if not value and not item.optional:
            problems.append(f"{connection.name}.{item.key} is empty")
        cleaned[item.key] = value
    if problems:
        raise ConfigurationError("not saved:\n  - " + "\n  - ".join(dict.fromkeys(problems)))
    return cleaned, notes


def _secret_fields(connection: Connection) -> list[Field]:
    return [item for item in connection.spec.fields if item.hidden and item.kind == "credential"]


def candidate_settings(
    connection: Connection, document: tomlkit.TOMLDocument, values: dict[str, str], path: Path
) -> SettingsBase:
    """The settings the daemon will run with once the document is saved, with the new values in force."""
    data = document.unwrap()
    try:
        settings = settings_model()(**data)
        section = getattr(settings, connection.name)
        current = {key: getattr(section, key) for key in type(section).model_fields}
        forced = type(section).model_validate(current | values)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, path)) from None
    redaction.register(*settings.secrets(), *(getattr(forced, item.key).get_secret_value()
                                              for item in _secret_fields(connection)
                                              if isinstance(getattr(forced, item.key, None), SecretStr)))
    return settings.model_copy(update={connection.name: forced})


def apply(
    connection: Connection,
    document: tomlkit.TOMLDocument,
    values: dict[str, str],
    *,
    credentials: bool,
) -> dict[str, str]:
    """Write the values into the document (secrets left out with ``credentials``); returns those secrets."""
    if connection.name not in document:
        document.add(tomlkit.nl())
        document.add(connection.name, tomlkit.table())
    table = document[connection.name]
    if connection.platform:
        table["enabled"] = True
    set_aside: dict[str, str] = {}
    secrets = {item.key for item in _secret_fields(connection)}
    for key, value in values.items():
        if credentials and key in secrets:
            set_aside[key] = value
            if key in table:
                del table[key]
            continue
        table[key] = value
    return set_aside


def atomic_write(path: Path, text: str, *, mode: int = 0o600) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename; returns the file written.

    A symlink is followed (the link stays, its target is replaced). The file ends up ``mode``;
    when root rewrites a file owned by someone else (the service user), that owner is kept.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        previous = target.stat()
    except FileNotFoundError:
        previous = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ConfigurationError(
            f"cannot write {target}: {error.strerror} (run as the file's owner, or use sudo)"
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        if previous is not None and os.geteuid() == 0 and (previous.st_uid, previous.st_gid) != (0, 0):
            os.chown(temporary, previous.st_uid, previous.st_gid)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):
        directory_descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_descriptor)
        finally:
            os.close(directory_descriptor)
    return target


def _warn_unit_credentials(
    name: str, saved: list[str], credentials: Path | None, warn: Callable[[str], Any]
) -> None:
    """Warn when the shipped credentials folder holds a file for a value just saved into the config file.

    If the unit loads it (LoadCredential=), the service keeps using that file, whatever the TOML says.
    """
    if credentials is not None:
        return
    for key in saved:
        stale = DEFAULT_CREDENTIALS_DIRECTORY / f"{name}.{key}"
        with contextlib.suppress(OSError):
            if stale.is_file():
                warn(
                    f"warning: {stale} exists: if the unit loads it (LoadCredential=), the service goes on using "
                    f"it instead of the config file; update it too with --credentials-dir "
                    f"{DEFAULT_CREDENTIALS_DIRECTORY}, or delete it and its LoadCredential= line"
                )


def run_connect(
    name: str,
    *,
    config_file: str | os.PathLike[str] | None,
    given: dict[str, str | None] | None = None,
    credentials_dir: str | os.PathLike[str] | None = None,
    test: bool = True,
    ask: Callable[[Connection, Field, str], str | None] | None = None,
    confirm: Callable[[str], bool] | None = None,
    echo: Callable[[str], Any] = click.echo,
    warn: Callable[[str], Any] = lambda text: click.echo(text, err=True),
) -> int:
    """Ask, trim, check, test and save one connection; returns the exit code (0 saved, 1 test failed).

    When the test names a corrected address (the shop's site address instead of its shop page),
    ``confirm`` is asked whether to use it; on yes, that address is tested and saved instead.
    """
    connection = _connection(name)
    given = dict(given or {})
    for role, flag in OPTIONS.items():
        if given.get(role) is not None and connection.spec.field(role) is None:
            raise ConfigurationError(f"{flag} is not used by {name}")
    path = Path(config_path(config_file) or DEFAULT_CONFIG_PATH)
    original, document = _read_document(path)
    asker = ask if isinstance(ask, Asker) else Asker()
    confirm = confirm or asker.confirm
    raw = _collect(connection, document, given, ask or asker)
    values, notes = clean(connection, raw)
    for note in notes:
        warn(redact(f"note: {note} (it came along with the paste)"))
    credentials = Path(credentials_dir).absolute() if credentials_dir else None
    set_aside = apply(connection, document, values, credentials=credentials is not None)
    settings = candidate_settings(connection, document, values, path)
    context = Context(config_file=path)

    if test:
        result = check_one(settings, name, context)
        echo(format_line(result))
        endpoint = connection.spec.field("endpoint")
        suggested = str(result.details.get("suggested_url") or "")
        if not result.ok and suggested and endpoint is not None:
            if confirm(f"use {suggested} as the {connection.spec.title} {endpoint.label}?"):
                values[endpoint.key] = suggested
                apply(connection, document, {endpoint.key: suggested}, credentials=False)
                settings = candidate_settings(connection, document, values, path)
                result = check_one(settings, name, context)
                echo(format_line(result))
            else:
                warn(f"to use it: sync-daemon connect {name} --endpoint {suggested}")
        if not result.ok:
            warn(f"not saved: fix the above and run `sync-daemon connect {name}` again (or --no-test to save anyway)")
            return 1
    else:
        fatal = [finding for finding in preflight(connection, settings, context) if finding.fatal]
        if fatal:
            raise ConfigurationError("not saved:\n  - " + "\n  - ".join(redact(f.text()) for f in fatal))
        warn(f"warning: saved WITHOUT a connection test; run `sync-daemon test-connection {name}` before relying on it")

    # Nothing may be lost: if someone changed the file while the check ran, start over.
    current_text, _ = _read_document(path)
    if current_text != original:
        raise ConfigurationError(f"{path} changed while the connection was tested; nothing saved — run connect again")
    written_files = []
    for key, secret in set_aside.items():
        assert credentials is not None
        credentials.mkdir(mode=0o700, parents=True, exist_ok=True)
        written_files.append(atomic_write(credentials / f"{name}.{key}", secret))
        echo(f"wrote {name}.{key} to {written_files[-1]} (mode 0600; the secret, not in the config file)")
    target = atomic_write(path, tomlkit.dumps(document))
    in_file = sorted({*(key for key in values if key not in set_aside), *(["enabled"] if connection.platform else [])})
    echo(f"saved [{name}] ({', '.join(in_file) or 'nothing new'}) to {target} (mode 0600)")

    for item in connection.spec.fields:
        where = value_source(name, item.key, None)
        if item.key in values and item.key not in set_aside and where.startswith(("from $", "in credential file")):
            warn(redact(f"warning: {name}.{item.key} is also set {where}, which wins over the config file"))
    _warn_unit_credentials(name, [key for key in values if key not in set_aside], credentials, warn)
    if written_files:
        # One per line, absolute, as a drop-in takes them (systemctl edit sync-daemon, under [Service]).
        echo("for the service, add these lines under [Service] with `systemctl edit sync-daemon`:")
        for key, written in zip(set_aside, written_files, strict=True):
            echo(f"LoadCredential={name}.{key}:{written}")
    if set_aside:
        # systemd copies LoadCredential= files into $CREDENTIALS_DIRECTORY at start only.
        echo(
            "credential files are read when the service starts: systemctl restart sync-daemon (a reload keeps "
            "the old secret); a platform paused for rejected credentials resumes then"
        )
    else:
        echo(
            "the running daemon picks this up on reload: systemctl reload sync-daemon (or kill -HUP its pid); "
            "a platform paused for rejected credentials resumes then"
        )
    return 0
