"""Settings: the root model, assembled from the platforms' sections; every problem reported at once.

Each platform's section is its own model in its package (``platforms/NAME/settings.py``); this
module only gathers them from the registry, with the shop's (``source/settings.py``), delivery and
write-back sections beside them.

Sources, strongest first: environment variables (``SYNC_DAEMON_…``, nested with ``__``,
e.g. ``SYNC_DAEMON_GOTRACK__API_SECRET``), systemd credentials (a file per secret in
``$CREDENTIALS_DIRECTORY`` named ``section.field``, e.g. ``gotrack.api_secret``), the TOML
file, then defaults. The TOML file is ``--config``, else ``$SYNC_DAEMON_CONFIG``, else
``/etc/sync-daemon/config.toml`` when it exists.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sync_daemon.core import redaction
from sync_daemon.core.credentials import CredentialsSource
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.files import state_directory_default
from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.core.settings import ENV_PREFIX, Section
from sync_daemon.platforms import REGISTRY, Platform
from sync_daemon.source.settings import WooCommerceSettings

DEFAULT_CONFIG_PATH = Path("/etc/sync-daemon/config.toml")
LEASE_MARGIN_SECONDS = 10  # beyond a request's timeout: its outcome's commit, a busy database
STATUS_MAP_SUFFIX = "_status_map"  # writeback.<platform>_status_map, for platforms that read statuses back


class WritebackSettings(Section):
    """Statuses learnt from the platforms, applied to the WooCommerce order.

    One ``<platform>_status_map`` (remote status → WooCommerce status) is added per platform that
    reads statuses back (see ``settings_model``); other remote statuses only add an order note.
    """

    enabled: bool = True
    interval_seconds: float = Field(default=120, ge=1)
    add_notes: bool = True
    tracking_number_meta_key: str = "_sync_daemon_tracking_number"
    carrier_meta_key: str = "_sync_daemon_carrier"
    # Each platform's id for a delivered order into its meta (``sync_daemon_<platform>``), and a
    # private note on an order a platform did not get and why (engine/receipts.py).
    receipts: bool = True
    rejection_notes: bool = True

    def status_map(self, source: str) -> dict[str, str]:
        """The status map of one platform (empty when it has none)."""
        return dict(getattr(self, f"{source}{STATUS_MAP_SUFFIX}", None) or {})


def _status_slugs(value: dict[str, str]) -> dict[str, str]:
    for remote, local in value.items():
        if not re.fullmatch(r"[a-z0-9_-]+", local.removeprefix("wc-")):
            raise ValueError(f"{local!r} (for {remote!r}) is not a WooCommerce status slug")
    return {remote: local.removeprefix("wc-") for remote, local in value.items()}


class DeliverySettings(Section):
    """How failed deliveries are retried and when a destination pauses."""

    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 14400, 28800, 43200], min_length=1
    )
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    batch_size: int = Field(default=100, ge=1, le=1000)
    auth_pause_seconds: float = Field(default=3600, ge=1)
    quota_pause_seconds: float = Field(default=21600, ge=1)
    outage_pause_seconds: float = Field(default=60, ge=1)

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _schedule(cls, value: list[float]) -> list[float]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every delay must be greater than 0")
        return value


class LedgerSettings(Section):
    """Where the ledger lives (a SQLite file by default, or PostgreSQL) and how long it keeps finished orders."""

    # Days after an order's last activity before it is pruned, once every row of it is final and
    # the order is closed in WooCommerce; 0 keeps everything forever.
    retention_days: int = Field(default=90, ge=0)
    prune_interval_seconds: float = Field(default=3600, ge=1)
    # Empty: ``ledger.sqlite3`` in the state directory. ``postgresql://user@host:port/database?sslmode=…``:
    # a PostgreSQL ledger that several daemons (and shops) may share; its password goes in ``password``.
    url: str = ""
    password: SecretStr | None = None
    # The shop's name in a shared PostgreSQL ledger; empty: the WooCommerce address (host and path).
    shop_id: str = ""
    # A row taken by one daemon stays its own this long; after a crash, another takes it over then.
    lease_seconds: float = Field(default=120, ge=10)
    # How often a daemon that does not lead tries to take the lead (and delivers what is due).
    leader_check_seconds: float = Field(default=5, ge=1)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        scheme, _, rest = value.partition("://")
        if scheme not in ("postgresql", "postgres") or not rest:
            raise ValueError("must be empty (SQLite in the state directory) or a postgresql://… URL")
        if (":" in rest.split("@", 1)[0] and "@" in rest) or re.search(r"[?&]password=", rest):
            raise ValueError(
                "holds a password: put it in [ledger] password, SYNC_DAEMON_LEDGER__PASSWORD or the"
                " ledger.password credential, so that the URL can be shown and logged"
            )
        return value

    @field_validator("shop_id")
    @classmethod
    def _shop_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9._:/-]{1,200}", value):
            raise ValueError("letters, digits and . _ : / - only (at most 200)")
        return value

    @property
    def shared(self) -> bool:
        """True when the ledger is a PostgreSQL database that several daemons may share."""
        return bool(self.url)


class SettingsBase(BaseSettings):
    """The whole configuration of one daemon (one shop); the platform sections come from the registry."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    state_dir: Path | None = None
    poll_interval_seconds: float = Field(default=60, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    woocommerce: WooCommerceSettings = Field(default_factory=WooCommerceSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    # One field per platform (its section) and ``writeback`` are added by ``settings_model``.
    platforms: ClassVar[dict[str, type[Platform]]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the TOML file's content (see load_settings); env beats credentials beats file.
        sources = (env_settings, CredentialsSource(settings_cls), init_settings)
        return tuple(_LeaveOut(settings_cls, source) for source in sources)

    def resolved_state_dir(self) -> Path:
        """The ledger's directory: the setting, else $STATE_DIRECTORY (systemd), else /var/lib/sync-daemon."""
        return self.state_dir if self.state_dir is not None else state_directory_default()

    def section(self, name: str) -> Any:
        """One section's settings by name (a platform's, ``woocommerce``, ``delivery`` …)."""
        return getattr(self, name)

    def enabled_platforms(self) -> list[str]:
        """Names of the platforms switched on, in registry order."""
        return [name for name in self.platforms if self.section(name).enabled]

    def enabled_destinations(self) -> list[str]:
        """Names of the platforms switched on that orders are delivered to."""
        return [name for name in self.enabled_platforms() if self.platforms[name].delivers]

    def problems(self) -> list[str]:
        """Every cross-field problem (missing credentials and the like)."""
        found = self.woocommerce.problems()
        for name in self.platforms:
            found.extend(self.section(name).problems())
        if not self.enabled_platforms():
            found.append("no platform is enabled: set enabled = true in at least one platform section")
        if self.ledger.shared:
            found.extend(self._lease_problems())
        return found

    def _lease_problems(self) -> list[str]:
        # A request that outlives its row's lease could be sent again by another daemon while still
        # out: the lease must outlast the slowest platform's timeout, with room for the commit.
        slowest = max(
            (getattr(self.section(name), "timeout_seconds", 0.0) for name in self.enabled_platforms()), default=0.0
        )
        if self.ledger.lease_seconds < 2 * slowest + LEASE_MARGIN_SECONDS:
            return [
                f"ledger.lease_seconds ({self.ledger.lease_seconds:g}) must be at least twice the longest platform"
                f" timeout_seconds ({slowest:g}) plus {LEASE_MARGIN_SECONDS} s, or another daemon may send a"
                " request again while it is still out"
            ]
        return []

    def secrets(self) -> list[str]:
        """Every secret value, to register with the redactor."""
        values = []
        for name in ("woocommerce", "server", "ledger", *self.platforms):
            for value in self.section(name).__dict__.values():
                if isinstance(value, SecretStr):
                    values.append(value.get_secret_value())
        return values

    def fingerprint(self, section: str) -> str:
        """A hash of one section's settings: tells when a paused destination was reconfigured."""
        dumped = getattr(self, section).model_dump(mode="json")
        for key, value in getattr(self, section).__dict__.items():
            if isinstance(value, SecretStr):
                dumped[key] = value.get_secret_value()
        return hashlib.sha256(repr(sorted(dumped.items())).encode()).hexdigest()[:16]


def settings_model(platforms: dict[str, type[Platform]] | None = None) -> type[SettingsBase]:
    """The root model for a set of platforms (the registry's by default), built once per set."""
    platforms = dict(REGISTRY if platforms is None else platforms)
    key = tuple(platforms.items())
    if key not in _models:
        _models[key] = _build_settings_model(platforms)
    return _models[key]


def _build_settings_model(platforms: dict[str, type[Platform]]) -> type[SettingsBase]:
    maps = {
        f"{name}{STATUS_MAP_SUFFIX}": (dict[str, str], Field(default_factory=_copy_of(platform.status_map_default)))
        for name, platform in platforms.items()
        if platform.status_map_default is not None
    }
    validators = {"_statuses": field_validator(*maps)(_status_slugs)} if maps else {}
    writeback = create_model(
        "WritebackSettings", __base__=WritebackSettings, __validators__=validators, **maps  # type: ignore[call-overload]
    )
    sections: dict[str, Any] = {
        name: (platform.Settings, Field(default_factory=platform.Settings)) for name, platform in platforms.items()
    }
    sections["writeback"] = (writeback, Field(default_factory=writeback))
    model = create_model("Settings", __base__=SettingsBase, **sections)  # type: ignore[call-overload]
    model.platforms = platforms
    return model


def _copy_of(default: dict[str, str]) -> Any:
    return lambda: dict(default)


_models: dict[tuple[Any, ...], type[SettingsBase]] = {}
Settings = settings_model()


def sections_with_connections(settings_class: type[SettingsBase]) -> tuple[str, ...]:
    """The shop and every platform: the sections whose connection can be tested."""
    return ("woocommerce", *settings_class.platforms)


# Locations (("gotrack", "endpoint"), ("poll_interval_seconds",), …) whose values every source
# leaves out while a configuration is validated leniently: see _validate_leniently.
_left_out: ContextVar[frozenset[tuple[str, ...]]] = ContextVar("_left_out", default=frozenset())


class _LeaveOut(PydanticBaseSettingsSource):
    """A source as it is, minus the values at the locations in ``_left_out``."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` asks the wrapped source for everything."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = self.inner()
        for location in _left_out.get():
            values = _without(values, location)
        return values


def _without(values: dict[str, Any], location: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``values`` without the key at ``location`` (the original is not touched)."""
    head, *rest = location
    if head not in values:
        return values
    copy = dict(values)
    if not rest:
        del copy[head]
    elif isinstance(copy[head], dict):
        copy[head] = _without(copy[head], tuple(rest))
    return copy


def _error_location(item: Any) -> tuple[str, ...]:
    """Section and field of a validation error (list indexes and deeper parts dropped)."""
    return tuple(str(part) for part in item["loc"][:2])


def _error_line(item: Any) -> str:
    location = ".".join(str(part) for part in item["loc"]) or "(top level)"
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown setting (a typo? every key: sync-daemon config-example)"
    return f"{location}: {message}"


def _validate_leniently(data: dict[str, Any]) -> tuple[SettingsBase, list[tuple[tuple[str, ...], str]]]:
    """Settings with every invalid value left out (defaults instead), and (location, message) of each."""
    errors: list[tuple[tuple[str, ...], str]] = []
    left_out: frozenset[tuple[str, ...]] = frozenset()
    while True:
        token = _left_out.set(left_out)
        try:
            return settings_model()(**data), errors
        except ValidationError as error:
            found = [(_error_location(item), _error_line(item)) for item in error.errors()]
            if {location for location, _ in found} <= left_out:
                raise  # leaving the values out did not help: nothing more to learn
            errors.extend(item for item in found if item[0] not in left_out)
            left_out |= {location for location, _ in found}
        finally:
            _left_out.reset(token)


def _concerns(problem: str, locations: set[tuple[str, ...]]) -> bool:
    """Whether a problem of ``Settings.problems`` is about a value that was left out as invalid."""
    dotted = problem.split(":", 1)[0]
    parts = tuple(dotted.split("."))
    if " " in dotted:  # "no platform is enabled": a section left out may have been enabled
        return any(location[0] in settings_model().platforms for location in locations)
    return parts[:1] in locations or parts[:2] in locations


def config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """Which TOML file to read: --config, $SYNC_DAEMON_CONFIG, else the default if present."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file as a dict; a missing or broken file is a ConfigurationError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"config file {path} does not exist") from None
    except PermissionError:
        raise ConfigurationError(f"config file {path} is not readable by this user") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"config file {path} is not valid TOML: {error}") from None


def check_settings(
    explicit_path: str | os.PathLike[str] | None = None, *, check: bool = True
) -> tuple[SettingsBase, Path | None, list[str]]:
    """Settings with invalid values left out, the file read, and every problem found (none raised).

    With ``check`` the missing-credential checks too, except where a value was left out as invalid.
    A file that cannot be read or parsed is still a ConfigurationError.
    """
    path = config_path(explicit_path)
    data = read_toml(path) if path else {}
    try:
        settings, errors = _validate_leniently(data)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, path)) from None
    lines = [line for _, line in errors]
    if check:
        locations = {location for location, _ in errors}
        lines += [problem for problem in settings.problems() if not _concerns(problem, locations)]
    redaction.register(*settings.secrets())
    return settings, path, lines


def load_settings(explicit_path: str | os.PathLike[str] | None = None, *, check: bool = True) -> SettingsBase:
    """Load and validate settings; raise ConfigurationError listing every problem at once."""
    settings, path, lines = check_settings(explicit_path, check=check)
    if lines:
        raise ConfigurationError(invalid_configuration(path, lines))
    return settings


def describe_validation_error(error: ValidationError, path: Path | None) -> str:
    """Every error of a failed validation, one line each, for a ConfigurationError."""
    return invalid_configuration(path, [_error_line(item) for item in error.errors()])


def invalid_configuration(path: Path | None, lines: list[str]) -> str:
    """The one text of an invalid configuration: the file (or the missing default one), then one problem a line."""
    if path is None:  # only the environment was read: its problems alone would hide that the file is missing
        head = (
            f"no configuration file at {DEFAULT_CONFIG_PATH} — copy config.example.toml there"
            " (`sync-daemon config-example`) or pass --config; the environment alone leaves an invalid configuration"
        )
    else:
        head = f"invalid configuration in {path}"
    return f"{head}:\n  - " + "\n  - ".join(lines)
