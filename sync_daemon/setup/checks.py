"""Connection checks ("Test Connection"): prove that each connection works, without creating anything.

The connections are the shop (``source/check.py``) followed by every platform of the settings
(``settings.platforms``, from the registry), each described by its ``ConnectionSpec``: the fields a
merchant pastes (``connect`` prompts for them), where they are found, and what to pre-check. A
new platform brings its own spec and ``check()``; nothing here names one.

Every check runs in three steps:

1. The values as pasted (raw: secrets are never stripped) — empty, bullets (••••) from a hidden
   field, the example placeholder, a stray space or newline, a key without its platform's prefix,
   a URL with the wrong path. A certain problem is reported at once, without a request.
2. The network check: read-only or validation-only requests whose answers prove the credentials
   (the shop's ``check_woocommerce``, each platform's ``check()``).
3. When the platform refused the credentials, the ledger (read, never written) tells whether it
   accepted deliveries before: then the key was most likely regenerated in the dashboard.

Checks run side by side (one thread each), so a timeout on one does not delay the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sync_daemon.config import SettingsBase, read_toml
from sync_daemon.core.diagnose import Finding, trusting, value_findings, value_source
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.redaction import redact
from sync_daemon.core.urls import origin_of
from sync_daemon.ledger import SqliteLedger
from sync_daemon.platforms.base import CheckResult, ConnectionSpec, ShopContext
from sync_daemon.setup.example import placeholder_finding
from sync_daemon.source.check import NAME, SHOP_CONNECTION, check_woocommerce

SHOP = NAME  # the shop's settings section, always checked first


@dataclass(frozen=True)
class Connection:
    """A connection sync-daemon can check (and ``connect`` can save): the shop or one platform."""

    name: str  # the settings section
    spec: ConnectionSpec  # title, dashboard, fields, pre-flight
    check: Callable[[SettingsBase], CheckResult]  # the network check (after the pre-flight passed)
    platform: bool = True  # has an ``enabled`` switch (the shop does not)

    def enabled(self, settings: SettingsBase) -> bool:
        """The shop always; a platform when its section says enabled = true."""
        return not self.platform or bool(settings.section(self.name).enabled)


@dataclass
class Context:
    """What a check may need besides the settings: where values come from, the ledger's memory."""

    config_file: Path | None = None
    history: Callable[[SettingsBase, str], str | None] | None = None  # default: ledger_history


def connections(settings: SettingsBase | type[SettingsBase]) -> dict[str, Connection]:
    """The shop, then every platform these settings know, in registry order (the order of the report)."""
    found = {SHOP: Connection(SHOP, SHOP_CONNECTION, _check_shop, platform=False)}
    for name, platform in settings.platforms.items():
        found[name] = Connection(name, platform.connection, partial(_check_platform, name))
    return found


def _check_shop(settings: SettingsBase) -> CheckResult:
    # A read-only key is enough unless write-back is on for a platform that reads statuses back.
    needs_write = settings.writeback.enabled and any(
        settings.platforms[name].status_map_default is not None for name in settings.enabled_platforms()
    )
    return check_woocommerce(settings.woocommerce, needs_write=needs_write)


def _check_platform(name: str, settings: SettingsBase) -> CheckResult:
    url = settings.woocommerce.url
    platform = settings.platforms[name](settings.section(name), ShopContext(url=url, origin=origin_of(url)))
    try:
        return platform.check()
    finally:
        with contextlib.suppress(Exception):  # a failing close must not hide the check's result
            platform.close()


def _result(name: str, ok: bool, message: str, hint: str = "", **details: Any) -> CheckResult:
    return CheckResult(name, ok, redact(message), redact(hint), details)


# -- pre-flight: the values as pasted ----------------------------------------------------------------


def _prefix_findings(connection: Connection, section: Any) -> list[Finding]:
    """Keys that lack their platform's prefix, or key and secret pasted the wrong way round."""
    spec, name = connection.spec, connection.name
    found: list[Finding] = []
    key_field, secret_field = spec.field("key"), spec.field("secret")
    values = {
        item.key: getattr(section, item.key).get_secret_value()
        for item in (key_field, secret_field)
        if item is not None and hasattr(getattr(section, item.key, None), "get_secret_value")
    }
    if key_field and secret_field and key_field.key in values and secret_field.key in values:
        key, secret = values[key_field.key].strip(), values[secret_field.key].strip()
        if key and key == secret:
            return [
                Finding(
                    f"{name}.{key_field.key}",
                    f"and {name}.{secret_field.key} are the same value",
                    f"paste the {key_field.label} and the {secret_field.label} from {spec.dashboard}",
                )
            ]
        if (
            key_field.prefix
            and secret_field.prefix
            and key.startswith(secret_field.prefix)
            and secret.startswith(key_field.prefix)
        ) or (key_field.prefix and not secret_field.prefix and secret.startswith(key_field.prefix)
              and not key.startswith(key_field.prefix)):
            return [
                Finding(
                    f"{name}.{key_field.key}",
                    f"and {name}.{secret_field.key} are swapped (the {key_field.label} starts with "
                    f"{key_field.prefix})",
                    "exchange the two values",
                )
            ]
    for item in spec.fields:
        value = values.get(item.key, "").strip()
        if item.prefix and value and not value.startswith(item.prefix):
            other = next(
                (f" (it starts like the {o.label}, {o.prefix}…)" for o in spec.fields
                 if o is not item and o.prefix and value.startswith(o.prefix)),
                "",
            )
            found.append(
                Finding(
                    f"{name}.{item.key}",
                    f"does not start with {item.prefix}{other}: it is not a {spec.title} {item.label}",
                    f"copy the {item.label} from {spec.dashboard}",
                )
            )
    return found


def preflight(connection: Connection, settings: SettingsBase, context: Context) -> list[Finding]:
    """Every problem visible in the values themselves, before any request."""
    spec, name = connection.spec, connection.name
    section = settings.section(name)
    found: list[Finding] = []
    for item in spec.fields:
        raw = getattr(section, item.key, None)
        if raw is None:
            continue
        value = raw.get_secret_value() if hasattr(raw, "get_secret_value") else str(raw)
        dotted = f"{name}.{item.key}"
        where = value_source(name, item.key, context.config_file)
        default = getattr(type(section).model_fields[item.key], "default", "")
        placeholder = placeholder_finding(
            name, item.key, value, default=default if isinstance(default, str) else "", label=item.label, where=where
        )
        if item.kind == "url":
            if not value and not item.optional:
                found.append(Finding(dotted, "is empty", f"paste the {item.label} from {spec.dashboard}"))
            found.extend([placeholder] if placeholder else [])
            continue
        if not value and item.optional:
            continue
        findings = value_findings(dotted, value, label=item.label, where=where)
        found.extend(findings or ([placeholder] if placeholder else []))
    if any(finding.fatal for finding in found):
        return found
    found.extend(_prefix_findings(connection, section))
    found.extend(spec.preflight(section))
    return found


# -- running the checks --------------------------------------------------------------------------------


def ledger_history(settings: SettingsBase, name: str) -> str | None:
    """What the ledger remembers of a connection that once worked (read only; None when nothing)."""
    path = settings.resolved_state_dir() / "ledger.sqlite3"
    try:
        if not path.is_file():  # never create a ledger just to look into it
            return None
    except OSError:  # a state directory this user may not enter
        return None
    try:
        ledger = SqliteLedger(path)
    except Exception:  # noqa: BLE001 - an unreadable ledger only means "no history"
        return None
    try:
        if name == SHOP:
            cursor = ledger.get_meta("cursor")
            # What the ledger knows, no more: not which key read them (it may have changed since).
            return f"the daemon's ledger ({path}) holds orders read from the shop up to {cursor}" if cursor else None
        success = ledger.destination(name).get("last_success_at")
        return f"{name} accepted deliveries from this daemon before (last success at {success})" if success else None
    except Exception:  # noqa: BLE001
        return None
    finally:
        ledger.close()


def _regenerated_hint(connection: Connection, remembered: str) -> str:
    dashboard = connection.spec.dashboard
    if not connection.platform:  # WooCommerce keys are revoked or deleted, not regenerated
        return (
            f"{remembered}: unless the values were changed here since, the key was revoked or deleted in "
            f"{dashboard} — create a new one and paste it: sync-daemon connect {connection.name}"
        )
    return (
        f"{remembered}: unless the values were changed here since, they were probably regenerated in "
        f"{dashboard} — paste the new ones: sync-daemon connect {connection.name}"
    )


def check_one(settings: SettingsBase, name: str, context: Context | None = None) -> CheckResult:
    """Pre-flight, then the network check, then the ledger's memory when the credentials were refused."""
    context = context or Context()
    connection = connections(settings)[name]
    findings = preflight(connection, settings, context)
    fatal = [finding for finding in findings if finding.fatal]
    listed = [vars(finding) for finding in findings]
    endpoint = connection.spec.field("endpoint")
    section = settings.section(name)
    if fatal:
        # A corrected address that is certain (the site address inside a /wp-admin URL): connect offers it.
        suggested = [f.suggestion for f in fatal if f.suggestion and endpoint and f.field == f"{name}.{endpoint.key}"]
        return _result(
            name,
            False,
            "; ".join(f"{finding.field} {finding.problem}" for finding in fatal),
            "; ".join(dict.fromkeys(finding.fix for finding in fatal)),
            findings=listed,
            **({"suggested_url": suggested[0]} if suggested else {}),
        )
    bundle = getattr(section, "ca_bundle", "")
    try:
        with trusting({name: bundle}):  # so a TLS failure is diagnosed knowing the bundle in force
            result = connection.check(settings)
    except Exception as error:  # noqa: BLE001 - one broken check must not hide the others
        result = _result(name, False, f"the check itself failed: {type(error).__name__}: {error}")
    details = dict(result.details)
    if findings:
        details["findings"] = listed
    hint = result.hint
    if not result.ok and details.get("auth_rejected"):
        remembered = (context.history or ledger_history)(settings, name)
        if remembered:
            details["worked_before"] = remembered
            hint = _regenerated_hint(connection, remembered)
    message = result.message
    if result.ok and _verified_by_bundle(connection, section, bundle):
        message += f"; certificate trusted through ca_bundle {bundle}"
        details["ca_bundle"] = bundle
    if not connection.enabled(settings):
        message += f" (note: {name} is not enabled: set enabled = true in [{name}])"
    return CheckResult(result.name, result.ok, redact(message), redact(hint), details)


def _verified_by_bundle(connection: Connection, section: Any, bundle: str) -> bool:
    """Whether the connection's certificate was checked against its ca_bundle (an https endpoint, checks on)."""
    endpoint = connection.spec.field("endpoint")
    address = str(getattr(section, endpoint.key, "") or "") if endpoint else ""
    # verify_tls = false (the shop only) checks nothing, so nothing was trusted through the bundle.
    return bool(bundle) and address.startswith("https://") and getattr(section, "verify_tls", True) is not False


def known_names(settings: SettingsBase) -> list[str]:
    """Every connection this build can check."""
    return list(connections(settings))


def default_names(settings: SettingsBase) -> list[str]:
    """WooCommerce and every enabled platform."""
    return [name for name, connection in connections(settings).items() if connection.enabled(settings)]


def check_all(
    settings: SettingsBase,
    names: list[str] | None = None,
    *,
    config_file: Path | None = None,
    context: Context | None = None,
    invalid: dict[str, list[str]] | None = None,
    sources: bool = False,
) -> list[CheckResult]:
    """Check WooCommerce and the enabled (or named) connections side by side; results in registry order.

    ``invalid`` holds, per section, configuration problems that ruled some of its values out
    (``setup.offline``): such a connection fails with them, and the others are still checked.
    With ``sources`` each result also says where each of its values came from (``details["sources"]``).
    """
    known = known_names(settings)
    invalid = {name: lines for name, lines in (invalid or {}).items() if name in known}
    wanted = list(dict.fromkeys(names)) if names else [*default_names(settings), *invalid]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ConfigurationError(f"unknown connection(s): {', '.join(unknown)} (known: {', '.join(known)})")
    context = context or Context(config_file=config_file)
    ordered = [name for name in known if name in wanted]
    if not ordered:
        return []
    with ThreadPoolExecutor(max_workers=len(ordered), thread_name_prefix="test-connection") as pool:
        futures = {name: pool.submit(check_one, settings, name, context) for name in ordered if name not in invalid}
        results = [
            _misconfigured(name, invalid[name]) if name in invalid else futures[name].result() for name in ordered
        ]
    filed = read_toml(context.config_file) if context.config_file and sources else {}
    for result in results if sources else ():
        result.details["sources"] = value_origins(connections(settings)[result.name], filed, context.config_file)
    return results


def value_origins(connection: Connection, filed: dict[str, Any], config_file: Path | None) -> dict[str, str]:
    """Where each of a connection's values comes from (environment, credential file, config file, default)."""
    origins = {}
    for item in connection.spec.fields:
        where = value_source(connection.name, item.key, None)  # "from $…" or "in credential file …"
        if not where:
            table = filed.get(connection.name)
            where = f"in {config_file}" if isinstance(table, dict) and item.key in table else "by default"
        origins[item.key] = where
    return origins


def _origins_text(origins: dict[str, str]) -> str:
    """``in /etc/…/config.toml: url, consumer_key; in credential file …: consumer_secret`` (never a value)."""
    grouped: dict[str, list[str]] = {}
    for key, where in origins.items():
        grouped.setdefault(where, []).append(key)
    return "; ".join(f"{where}: {', '.join(keys)}" for where, keys in grouped.items())


def _misconfigured(name: str, problems: list[str]) -> CheckResult:
    """A connection not tried because its settings are invalid."""
    return _result(
        name,
        False,
        "; ".join(problems),
        f"fix it in the config file, or run `sync-daemon connect {name}`; nothing was sent",
        config_problems=problems,
    )


def format_line(result: CheckResult) -> str:
    """One line of the report: name, OK/FAILED, what was verified or what is wrong, and what to do."""
    line = f"{result.name:<12} {'OK' if result.ok else 'FAILED'}  {result.message}"
    if result.hint and not result.ok:
        line += f" — {result.hint}"
    if result.details.get("sources"):
        line += f" (values {_origins_text(result.details['sources'])})"
    return redact(line)


__all__ = [
    "SHOP",
    "SHOP_CONNECTION",
    "Connection",
    "Context",
    "check_all",
    "check_one",
    "connections",
    "default_names",
    "format_line",
    "known_names",
    "ledger_history",
    "preflight",
]
