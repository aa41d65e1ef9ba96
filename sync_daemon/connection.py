"""Connection checks: prove each connection works without creating anything."""

from __future__ import annotations

from .config import Settings
from .destinations import REGISTRY, CheckResult, build_destinations
from .errors import AuthError, ConfigurationError, PermanentError, SyncError
from .woocommerce import WooCommerceSource

WRITE_PROBE_ORDER_ID = 0  # never a real order: a write key gets "invalid ID", a read key "no write permission"


def check_woocommerce(settings: Settings) -> CheckResult:
    """Read one order, then prove write access with an update of an order id that cannot exist."""
    problems = settings.woocommerce.problems()
    if problems:
        return CheckResult("woocommerce", False, "; ".join(problems), "edit the [woocommerce] section")
    source = WooCommerceSource(settings.woocommerce)
    try:
        source.probe()
    except AuthError as error:
        return CheckResult(
            "woocommerce",
            False,
            str(error),
            "re-create the key under WooCommerce → Settings → Advanced → REST API and paste both values",
        )
    except SyncError as error:
        return CheckResult("woocommerce", False, str(error))
    try:
        source.update_order(WRITE_PROBE_ORDER_ID, {})
    except PermanentError:
        return CheckResult(
            "woocommerce", True, "REST API answers; the key can read orders and write (status write-back)"
        )
    except AuthError:
        return CheckResult(
            "woocommerce",
            True,
            "REST API answers; the key can read orders but is READ-ONLY (status write-back needs Read/Write)",
            details={"read_only": True},
        )
    except (ConfigurationError, SyncError) as error:
        return CheckResult("woocommerce", True, f"the key can read orders; write access unknown ({error})")
    return CheckResult("woocommerce", True, "REST API answers; the key can read and write orders")


def check_all(settings: Settings, names: list[str]) -> list[CheckResult]:
    """Check WooCommerce and the enabled (or named) destinations, in that order."""
    wanted = names or ["woocommerce", *settings.enabled_destinations()]
    unknown = [name for name in wanted if name != "woocommerce" and name not in REGISTRY]
    if unknown:
        raise ConfigurationError(
            f"unknown connection(s): {', '.join(unknown)} (known: woocommerce, {', '.join(REGISTRY)})"
        )
    results = []
    if "woocommerce" in wanted:
        results.append(check_woocommerce(settings))
    platform_names = [name for name in wanted if name != "woocommerce"]
    for name in platform_names:
        problems = getattr(settings, name).problems() if getattr(settings, name).enabled else []
        if problems:
            results.append(CheckResult(name, False, "; ".join(problems), f"edit the [{name}] section"))
            continue
        destination = build_destinations(settings, [name])[name]
        try:
            results.append(destination.check_connection())
        finally:
            destination.close()
    return results
