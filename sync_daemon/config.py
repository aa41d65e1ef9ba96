"""Settings: one model, one sub-model per platform, every problem reported at once.

Sources, strongest first: environment variables (``SYNC_DAEMON_…``, nested with ``__``,
e.g. ``SYNC_DAEMON_GOTRACK__API_SECRET``), systemd credentials (a file per secret in
``$CREDENTIALS_DIRECTORY`` named ``section.field``, e.g. ``gotrack.api_secret``), the TOML
file, then defaults. The TOML file is ``--config``, else ``$SYNC_DAEMON_CONFIG``, else
``/etc/sync-daemon/config.toml`` when it exists.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tomllib
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sync_daemon.core import redaction
from sync_daemon.core.errors import ConfigurationError

DEFAULT_CONFIG_PATH = Path("/etc/sync-daemon/config.toml")
ENV_PREFIX = "SYNC_DAEMON_"
_SECRET_SHAPE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what platforms issue


class Section(BaseModel):
    """Strict base: an unknown key is a typo the merchant must hear about."""

    model_config = ConfigDict(extra="forbid")


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.0/8, ::1 or localhost (simulators, tests)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str, *, require_https: bool) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query string or fragment")
    if require_https and parts.scheme != "https" and not is_loopback_url(value):
        raise ValueError("must use https:// (credentials travel with every request)")
    return value


class WooCommerceSettings(Section):
    """The shop: where orders come from and where statuses go back."""

    url: str = ""
    consumer_key: SecretStr = SecretStr("")
    consumer_secret: SecretStr = SecretStr("")
    statuses: list[str] = Field(default_factory=lambda: ["processing", "on-hold"], min_length=1)
    sync_from: datetime | None = None
    initial_window_days: float = Field(default=7, ge=0)
    overlap_seconds: int = Field(default=120, ge=1)
    per_page: int = Field(default=100, ge=1, le=100)
    timeout_seconds: float = Field(default=20, gt=0, le=300)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, require_https=False).rstrip("/") if value.strip() else ""

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        cleaned = [status.strip().removeprefix("wc-") for status in value]
        for status in cleaned:
            if not re.fullmatch(r"[a-z0-9_-]+", status):
                raise ValueError(f"{status!r} is not a WooCommerce order status slug")
        return cleaned

    def start_point(self, now: datetime) -> datetime:
        """Where the first run starts reading: ``sync_from`` or now minus the window."""
        if self.sync_from is not None:
            return self.sync_from if self.sync_from.tzinfo else self.sync_from.replace(tzinfo=UTC)
        return now - timedelta(days=self.initial_window_days)

    def problems(self) -> list[str]:
        """What is missing for the daemon to reach the shop."""
        found = []
        if not self.url:
            found.append("woocommerce.url: required (your shop's address, e.g. https://shop.example.com)")
        if not self.consumer_key.get_secret_value():
            found.append("woocommerce.consumer_key: required (WooCommerce → Settings → Advanced → REST API)")
        if not self.consumer_secret.get_secret_value():
            found.append("woocommerce.consumer_secret: required")
        return found


class DestinationSettings(Section):
    """What every destination has: a switch, a timeout and a concurrency bound."""

    enabled: bool = False
    timeout_seconds: float = Field(default=15, gt=0, le=300)
    concurrency: int = Field(default=4, ge=1, le=32)


class GoTrackSettings(DestinationSettings):
    """GoTrack.bd: orders pushed with HTTP Basic auth, idempotent by external_order_id."""

    endpoint: str = "https://app.gotrack.bd/api/v1/orders"
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    phone_format: Literal["local", "e164", "as_typed"] = "local"
    cod_fee_pattern: str = r"(?i)\bcod\b|cash on delivery"
    zero_price_items: Literal["skip", "reject"] = "skip"
    external_source: str = "woocommerce"

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return _check_url(value, require_https=True)

    @field_validator("cod_fee_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    def problems(self) -> list[str]:
        """Missing or malformed credentials, when enabled."""
        if not self.enabled:
            return []
        found = []
        key = self.api_key.get_secret_value()
        if not key:
            found.append("gotrack.api_key: required when gotrack is enabled (GoTrack → Settings → API)")
        elif not key.startswith("fbc_"):
            found.append("gotrack.api_key: a GoTrack API key starts with 'fbc_'")
        if not self.api_secret.get_secret_value():
            found.append("gotrack.api_secret: required when gotrack is enabled")
        return found


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: what a browser sends as Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


ORDERREPO_DATA_FIELDS = ("order_number", "delivery_address", "payment_method", "customer_note", "shipping_method")


class OrderRepoSettings(DestinationSettings):
    """OrderRepo: orders created and updated with X-API-KEY + Origin, statuses read back."""

    base_url: str = "https://orderrepo.com"
    api_key: SecretStr = SecretStr("")
    # The domain registered in the OrderRepo project; empty means the shop's own origin.
    origin: str = ""
    id_prefix: str = ""
    fallback_image_url: str = ""
    data_fields: list[Literal[ORDERREPO_DATA_FIELDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(ORDERREPO_DATA_FIELDS)
    )
    status_pull_interval_seconds: float = Field(default=300, ge=1)
    # Order lifecycle moment → OrderRepo event key (created, processing, completed, cancelled, refunded).
    events: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value, require_https=True).rstrip("/")

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not value.strip():
            return ""
        checked = _check_url(value, require_https=False)
        if urlsplit(checked).path not in ("", "/"):
            raise ValueError("an Origin is scheme://host[:port] only, without a path")
        return origin_of(checked)

    @field_validator("fallback_image_url")
    @classmethod
    def _image(cls, value: str) -> str:
        return _check_url(value, require_https=False) if value.strip() else ""

    @field_validator("events")
    @classmethod
    def _events(cls, value: dict[str, str]) -> dict[str, str]:
        moments = ("created", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
        for moment, key in value.items():
            if moment not in moments:
                raise ValueError(f"{moment!r} is not an order moment ({', '.join(moments)})")
            if not key.strip():
                raise ValueError(f"the event key for {moment!r} is empty")
        return value

    def problems(self) -> list[str]:
        """Missing credentials, when enabled."""
        if self.enabled and not self.api_key.get_secret_value():
            return ["orderrepo.api_key: required when orderrepo is enabled (OrderRepo project → API keys)"]
        return []


class ShopBackSettings(DestinationSettings):
    """ShopBack: a conversion postback (GET, text answers) for orders carrying a click id.

    The endpoint must be https (loopback excepted): the security token travels in the query
    string, where any proxy or network observer on a plain-http path could read it. The contract's
    example URL is http://, but the same host answers over https.
    """

    endpoint: str = "https://shopback.go2cloud.org/aff_lsr"
    offer_id: str = ""
    security_token: SecretStr = SecretStr("")
    transaction_id_meta_key: str = "_shopback_transaction_id"
    amount: Literal["total", "total_excl_shipping", "total_excl_shipping_and_tax"] = "total_excl_shipping_and_tax"
    # adv_sub2…5 / adv_unique1…5 → an order field ("billing.city", "payment_method", "meta:KEY", …).
    extra_fields: dict[str, str] = Field(default_factory=dict)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme == "http" and parts.hostname and not is_loopback_url(value):
            raise ValueError(
                "must use https:// (the security token travels in the query string; "
                f"use https://{parts.netloc}{parts.path})"
            )
        return _check_url(value, require_https=True)

    @field_validator("offer_id", mode="before")
    @classmethod
    def _offer_id(cls, value: Any) -> Any:
        # offer_id = 1234 (a TOML integer) is as good as "1234".
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            value = value.strip()
            if value and not re.fullmatch(r"[0-9]+", value):
                raise ValueError(f"{value[:40]!r} is not numeric (the offer id is digits only, e.g. 1234)")
        return value

    @field_validator("security_token")
    @classmethod
    def _security_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and not re.fullmatch(r"[A-Za-z0-9]{32}", token):
            from sync_daemon.core.diagnose import trim  # diagnose imports this module

            core, removed = trim(token)
            if removed and re.fullmatch(r"[A-Za-z0-9]{32}", core):
                raise ValueError(f"has {' and '.join(removed)} (it came along with the paste): remove it")
            # Never the value: only its shape, which is enough to spot a stray space or a truncated paste.
            odd = sum(1 for char in token if not (char.isascii() and char.isalnum()))
            shape = f"{len(token)} characters" + (f", {odd} of them not a letter or digit" if odd else "")
            raise ValueError(f"must be 32 letters and digits (it has {shape})")
        return value

    @field_validator("transaction_id_meta_key")
    @classmethod
    def _meta_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the order meta key that holds the ShopBack click id")
        return value.strip()

    @field_validator("extra_fields")
    @classmethod
    def _extra_fields(cls, value: dict[str, str]) -> dict[str, str]:
        from sync_daemon.platforms.shopback import check_extra_fields  # the grammar lives with the mapping

        return check_extra_fields(value)

    def format_problems(self) -> list[str]:
        """A missing offer id or token (their format is checked on load), enabled or not."""
        found = []
        if not self.offer_id:
            found.append("shopback.offer_id: required, numeric (from your ShopBack representative)")
        if not self.security_token.get_secret_value():
            found.append("shopback.security_token: required, 32 letters and digits (from your ShopBack representative)")
        return found

    def problems(self) -> list[str]:
        """Missing or malformed offer id and token, when enabled."""
        return self.format_problems() if self.enabled else []


class TracktorSettings(Section):
    """Tracktor (ShopPad): shipment tracking read back into WooCommerce (``x-api-key`` + shop uuid)."""

    enabled: bool = False
    base_url: str = "https://www.theshoppad.com/apps/tracktor/api/admin"
    uuid: str = ""
    api_key: SecretStr = SecretStr("")
    # Where the Tracktor order id of a WooCommerce order comes from: an order meta key, or the
    # WooCommerce order id itself. Orders without one are not tracked.
    order_id_source: Literal["meta", "order_id"] = "meta"
    order_id_meta_key: str = "_tracktor_order_id"
    poll_interval_seconds: float = Field(default=600, ge=1)
    # Stop asking about an order this many days after it was first seen (delivered ones stop at once).
    track_days: float = Field(default=30, gt=0)
    timeout_seconds: float = Field(default=15, gt=0, le=300)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value, require_https=True).rstrip("/")

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return value.strip()

    @field_validator("order_id_meta_key")
    @classmethod
    def _meta_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name the order meta key that holds the Tracktor order id")
        return value.strip()

    def format_problems(self) -> list[str]:
        """Missing or malformed uuid and key, whether or not the section is enabled."""
        found = []
        if not self.uuid:
            found.append("tracktor.uuid: required (your shop's Tracktor uuid, letters, digits and dashes)")
        elif not re.fullmatch(r"[A-Za-z0-9-]{1,64}", self.uuid):
            found.append(f"tracktor.uuid: {self.uuid[:70]!r} is not a Tracktor uuid (letters, digits and dashes)")
        key = self.api_key.get_secret_value()
        if not key:
            found.append("tracktor.api_key: required when tracktor is enabled (Tracktor → Settings → API)")
        elif not _SECRET_SHAPE.fullmatch(key):
            # Never the value: a stray space or a non-ASCII character is enough to point at the paste.
            found.append(f"tracktor.api_key: must be printable ASCII without spaces (it has {len(key)} characters)")
        return found

    def problems(self) -> list[str]:
        """Missing or malformed uuid and key, when enabled."""
        return self.format_problems() if self.enabled else []


WOOCOMMERCE_STATUS_RANK = {"pending": 0, "on-hold": 1, "processing": 2, "completed": 3}
FINAL_WOOCOMMERCE_STATUSES = ("completed", "cancelled", "refunded", "failed", "trash")


class WritebackSettings(Section):
    """Statuses learnt from the platforms, applied to the WooCommerce order."""

    enabled: bool = True
    interval_seconds: float = Field(default=120, ge=1)
    # Remote status → WooCommerce status. Others only add an order note.
    orderrepo_status_map: dict[str, str] = Field(
        default_factory=lambda: {"done": "completed", "cancelled": "cancelled"}
    )
    tracktor_status_map: dict[str, str] = Field(default_factory=lambda: {"delivered": "completed"})
    add_notes: bool = True
    tracking_number_meta_key: str = "_sync_daemon_tracking_number"
    carrier_meta_key: str = "_sync_daemon_carrier"

    @field_validator("orderrepo_status_map", "tracktor_status_map")
    @classmethod
    def _statuses(cls, value: dict[str, str]) -> dict[str, str]:
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


class Settings(BaseSettings):
    """The whole configuration of one daemon (one shop)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    state_dir: Path | None = None
    poll_interval_seconds: float = Field(default=60, ge=1)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    woocommerce: WooCommerceSettings = Field(default_factory=WooCommerceSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    gotrack: GoTrackSettings = Field(default_factory=GoTrackSettings)
    orderrepo: OrderRepoSettings = Field(default_factory=OrderRepoSettings)
    shopback: ShopBackSettings = Field(default_factory=ShopBackSettings)
    tracktor: TracktorSettings = Field(default_factory=TracktorSettings)
    writeback: WritebackSettings = Field(default_factory=WritebackSettings)

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
        """The ledger's directory: the setting, else $STATE_DIRECTORY (systemd), else ./state."""
        if self.state_dir is not None:
            return self.state_dir
        state_directory = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        return Path(state_directory) if state_directory else Path("state")

    def enabled_destinations(self) -> list[str]:
        """Names of the platforms switched on, in a stable order."""
        return [name for name in DESTINATION_SECTIONS if getattr(self, name).enabled]

    def problems(self) -> list[str]:
        """Every cross-field problem (missing credentials and the like)."""
        found = self.woocommerce.problems()
        for name in DESTINATION_SECTIONS:
            found.extend(getattr(self, name).problems())
        found.extend(self.tracktor.problems())
        if not self.enabled_destinations() and not self.tracktor.enabled:
            found.append("no platform is enabled: set enabled = true in at least one platform section")
        return found

    def secrets(self) -> list[str]:
        """Every secret value, to register with the redactor."""
        values = []
        for section in (self.woocommerce, self.tracktor, *(getattr(self, n) for n in DESTINATION_SECTIONS)):
            for value in section.__dict__.values():
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


# Destination sections in the order they are listed and delivered to.
DESTINATION_SECTIONS = ("gotrack", "orderrepo", "shopback")
PLATFORM_SECTIONS = (*DESTINATION_SECTIONS, "tracktor")
SECTIONS_WITH_CONNECTIONS = ("woocommerce", *PLATFORM_SECTIONS)


class CredentialsSource(PydanticBaseSettingsSource):
    """systemd credentials: ``$CREDENTIALS_DIRECTORY/<section>.<field>`` holds one secret."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads the whole directory at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not directory or not Path(directory).is_dir():
            return {}
        values: dict[str, dict[str, str]] = {}
        for path in sorted(Path(directory).iterdir()):
            section, dot, field = path.name.partition(".")
            if not dot or section not in self.settings_cls.model_fields or not path.is_file():
                continue
            # A trailing newline is what `echo secret > file` leaves; keep anything else intact
            # so that test-connection can point out a stray space.
            values.setdefault(section, {})[field] = path.read_text(encoding="utf-8").rstrip("\r\n")
        return values


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
        message = "unknown setting (a typo? see config.example.toml)"
    return f"{location}: {message}"


def _validate_leniently(data: dict[str, Any]) -> tuple[Settings, list[tuple[tuple[str, ...], str]]]:
    """Settings with every invalid value left out (defaults instead), and (location, message) of each."""
    errors: list[tuple[tuple[str, ...], str]] = []
    left_out: frozenset[tuple[str, ...]] = frozenset()
    while True:
        token = _left_out.set(left_out)
        try:
            return Settings(**data), errors
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
        return any(location[0] in PLATFORM_SECTIONS for location in locations)
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


def load_settings(explicit_path: str | os.PathLike[str] | None = None, *, check: bool = True) -> Settings:
    """Load and validate settings; raise ConfigurationError listing every problem at once."""
    path = config_path(explicit_path)
    data = read_toml(path) if path else {}
    try:
        settings, errors = _validate_leniently(data)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, path)) from None
    lines = [line for _, line in errors]
    if check:
        # The missing-credential checks too, except where a value was left out as invalid.
        locations = {location for location, _ in errors}
        lines += [problem for problem in settings.problems() if not _concerns(problem, locations)]
    if lines:
        raise ConfigurationError(_invalid(path, lines))
    redaction.register(*settings.secrets())
    return settings


def load_for_checks(explicit_path: str | os.PathLike[str] | None = None) -> tuple[Settings, dict[str, list[str]]]:
    """Settings for ``test-connection``: invalid values left out, their problems by section.

    One section's mistake must not stop the other connections being checked side by side;
    the key ``""`` holds problems of top-level settings.
    """
    path = config_path(explicit_path)
    data = read_toml(path) if path else {}
    try:
        settings, errors = _validate_leniently(data)
    except ValidationError as error:
        raise ConfigurationError(describe_validation_error(error, path)) from None
    by_section: dict[str, list[str]] = {}
    for location, line in errors:
        section = location[0] if location and location[0] in SECTIONS_WITH_CONNECTIONS else ""
        by_section.setdefault(section, []).append(line)
    redaction.register(*settings.secrets())
    return settings, by_section


def describe_validation_error(error: ValidationError, path: Path | None) -> str:
    """Every error of a failed validation, one line each, for a ConfigurationError."""
    return _invalid(path, [_error_line(item) for item in error.errors()])


def _invalid(path: Path | None, lines: list[str]) -> str:
    where = f" in {path}" if path else ""
    return f"invalid configuration{where}:\n  - " + "\n  - ".join(lines)
