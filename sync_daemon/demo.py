"""``sync-daemon demo``: the real engine against built-in simulators on 127.0.0.1.

Nothing leaves the machine and no config file is needed: the simulators pick free ports, the
ledger lives in a temporary directory, and the first two GoTrack requests fail with 503 so the
demo shows a retry landing.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import logs, redaction
from .config import Settings
from .ledger import Ledger
from .runner import poll_once
from .simulators.gotrack import GoTrackSimulator
from .simulators.orders import demo_orders
from .simulators.woocommerce import WooCommerceSimulator

RETRY_SCHEDULE = [1.0, 2.0, 4.0]  # seconds, so the demo's retries land while you watch


def demo_settings(woocommerce: WooCommerceSimulator, gotrack: GoTrackSimulator, state_dir: str) -> Settings:
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
        tempfile.TemporaryDirectory(prefix="sync-daemon-demo-") as state_dir,
    ):
        ids = woocommerce.add_orders(demo_orders())
        gotrack.add_fault("status", status=503, count=2)
        settings = demo_settings(woocommerce, gotrack, state_dir)
        echo(f"WooCommerce simulator at {woocommerce.url} with {len(ids)} orders; GoTrack simulator at {gotrack.url}")
        echo("GoTrack will answer the first 2 requests with 503, to show retries.\n")
        for number in range(1, passes + 1):
            (summary,) = poll_once(settings)
            echo(
                f"pass {number}: fetched {summary.fetched}, new {summary.new}, delivered {summary.delivered}, "
                f"rejected {summary.rejected}, retrying {summary.retrying}"
            )
            if number < passes:
                time.sleep(max(RETRY_SCHEDULE[0] * 1.5, 1))
        report = _report(settings, ids, gotrack)
    echo("")
    for row in report["orders"]:
        customer = row["customer"][:22]
        where = f"GoTrack #{row['remote_id']}" if row["state"] == "delivered" else row["state"].upper()
        echo(f"  order {row['order_id']}  {customer:<22}  {where:<14}  {row['detail']}")
    echo(
        f"\n{report['delivered']} delivered, {report['rejected']} rejected, {report['other']} still pending; "
        f"GoTrack holds {report['gotrack_orders']} orders, each created once: {report['each_once']}"
    )
    return report


def _report(settings: Settings, ids: list[int], gotrack: GoTrackSimulator) -> dict[str, Any]:
    ledger = Ledger.open(settings.resolved_state_dir())
    try:
        received = {order["payload"]["external_order_id"]: order for order in gotrack.orders()}
        rows = []
        for order_id in ids:
            row = ledger.delivery(order_id, "gotrack") or {"state": "not seen", "remote_id": None}
            payload = (received.get(str(order_id)) or {}).get("payload") or {}
            customer = (payload.get("customer") or {}).get("name") or ""
            detail = row.get("last_error") or row.get("note") or ""
            if row["state"] == "delivered":
                detail = f"{len(payload.get('line_items', []))} line(s), phone {payload['customer']['phone']}"
                if row.get("note"):
                    detail += f"; {row['note']}"
            rows.append(
                {
                    "order_id": order_id,
                    "customer": customer,
                    "state": row["state"],
                    "remote_id": row.get("remote_id"),
                    "detail": detail,
                }
            )
    finally:
        ledger.close()
    per_order = Counter(order["payload"].get("external_order_id") for order in gotrack.orders())
    delivered = sum(1 for row in rows if row["state"] == "delivered")
    rejected = sum(1 for row in rows if row["state"] == "rejected")
    return {
        "orders": rows,
        "delivered": delivered,
        "rejected": rejected,
        "other": len(rows) - delivered - rejected,
        "gotrack_orders": len(received),
        "each_once": all(count == 1 for count in per_order.values()) and len(received) == delivered,
    }
