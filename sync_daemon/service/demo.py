"""``sync-daemon demo``: the real engine against built-in simulators on 127.0.0.1.

Nothing leaves the machine and no config file is needed: the simulators of WooCommerce, GoTrack
and OrderRepo pick free ports, the ledger lives in a temporary directory, and the first two
GoTrack requests fail with 503 so the demo shows a retry landing.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sync_daemon.app import App, poll_once
from sync_daemon.config import Settings
from sync_daemon.core import logs, redaction
from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.orders import demo_orders
from sync_daemon.simulators.woocommerce import WooCommerceSimulator

RETRY_SCHEDULE = [1.0, 2.0, 4.0]  # seconds, so the demo's retries land while you watch
DEMO_ORIGIN = "https://shop.example.com"


def demo_settings(
    woocommerce: WooCommerceSimulator, gotrack: GoTrackSimulator, orderrepo: OrderRepoSimulator, state_dir: str
) -> Settings:
    """Settings pointing at the simulators (environment and config files are ignored)."""
    shop = woocommerce.credentials
    platform = gotrack.credentials
    settings = Settings.model_validate(
        {
            "state_dir": state_dir,
            "log_level": "error",
            "woocommerce": {
                "url": woocommerce.url,
                "consumer_key": shop["consumer_key"],
                "consumer_secret": shop["consumer_secret"],
                "initial_window_days": 2,
            },
            "delivery": {"retry_schedule_seconds": RETRY_SCHEDULE, "retry_jitter": 0},
            "gotrack": {
                "enabled": True,
                "endpoint": gotrack.endpoint,
                "api_key": platform["api_key"],
                "api_secret": platform["api_secret"],
            },
            "orderrepo": {
                "enabled": True,
                "base_url": orderrepo.url,
                "api_key": orderrepo.api_key,
                "origin": DEMO_ORIGIN,
                "fallback_image_url": "https://shop.example.com/wp-content/uploads/placeholder.png",
            },
        }
    )
    redaction.register(*settings.secrets())
    return settings


def run_demo(passes: int = 3, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Seed a dozen orders, run ``passes`` passes, print and return what landed."""
    logs.configure("error", "console")
    with (
        WooCommerceSimulator() as woocommerce,
        GoTrackSimulator() as gotrack,
        OrderRepoSimulator(allowed_origins=(DEMO_ORIGIN,)) as orderrepo,
        tempfile.TemporaryDirectory(prefix="sync-daemon-demo-") as state_dir,
    ):
        orders = demo_orders()
        ids = woocommerce.add_orders(orders)
        gotrack.add_fault("status", status=503, count=2)
        settings = demo_settings(woocommerce, gotrack, orderrepo, state_dir)
        echo(
            f"WooCommerce simulator at {woocommerce.url} with {len(ids)} orders; "
            f"GoTrack at {gotrack.url}; OrderRepo at {orderrepo.url}"
        )
        echo("GoTrack will answer the first 2 requests with 503, to show retries.\n")
        for number in range(1, passes + 1):
            (summary,) = poll_once(settings)
            echo(
                f"pass {number}: fetched {summary.fetched}, new {summary.new}, delivered {summary.delivered}, "
                f"rejected {summary.rejected}, retrying {summary.retrying}"
            )
            if number < passes:
                time.sleep(max(RETRY_SCHEDULE[0] * 1.5, 1))
        report = _report(settings, orders, gotrack, orderrepo)
    echo("")
    echo(f"  {'order':<6} {'customer':<22} {'GoTrack':<16} {'OrderRepo':<12}")
    for row in report["orders"]:
        echo(f"  {row['order_id']:<6} {row['customer'][:22]:<22} {row['gotrack']:<16} {row['orderrepo']:<12}")
    if report["notes"]:
        echo("\nRejections and notes:")
        for note in report["notes"]:
            echo(f"  {note}")
    for name, totals in report["platforms"].items():
        echo(
            f"\n{name}: {totals['delivered']} delivered, {totals['rejected']} rejected, {totals['other']} pending; "
            f"the platform holds {totals['held']} orders, none twice: {totals['none_twice']}"
        )
    return report


def _report(
    settings: Settings, orders: list[dict[str, Any]], gotrack: GoTrackSimulator, orderrepo: OrderRepoSimulator
) -> dict[str, Any]:
    held = {
        "gotrack": Counter(order["external_order_id"] for order in gotrack.orders()),
        "orderrepo": Counter({order["external_id"]: order["track_requests"] for order in orderrepo.orders()}),
    }
    rows, notes = [], []
    states: dict[str, Counter[str]] = {name: Counter() for name in held}
    with App(settings) as app:
        for order in orders:
            billing = order.get("billing") or {}
            row = {
                "order_id": order["id"],
                "customer": f"{billing.get('first_name', '')} {billing.get('last_name', '')}",
            }
            for name in held:
                delivery = app.ledger.delivery(order["id"], name) or {"state": "not seen"}
                states[name][delivery["state"]] += 1
                shown = delivery["state"]
                if shown == "delivered" and name == "gotrack":
                    shown = f"delivered #{delivery['remote_id']}"
                row[name] = shown
                for text in (delivery.get("last_error"), delivery.get("note")):
                    if text:
                        notes.append(f"{order['id']} {name}: {text}")
            rows.append(row)
    platforms = {}
    for name, counter in held.items():
        delivered, rejected = states[name]["delivered"], states[name]["rejected"]
        platforms[name] = {
            "delivered": delivered,
            "rejected": rejected,
            "other": len(orders) - delivered - rejected,
            "held": len(counter),
            "none_twice": all(count == 1 for count in counter.values()),
        }
    return {"orders": rows, "notes": notes, "platforms": platforms}
