"""``sync-daemon demo``: the real engine against built-in simulators on 127.0.0.1.

Nothing leaves the machine and no config file is needed: the simulators of WooCommerce and the
four platforms pick free ports, the ledger lives in a temporary directory. A dozen orders go out;
the first two GoTrack requests fail with 503 so the demo shows a retry landing, three orders came
from a ShopBack click (their conversion is reported, the others are left out), two are shipped
with Tracktor, whose shipment statuses are read back and written into the WooCommerce orders (a
status and a note), and the daemon's meta of an order is read back from the shop.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from sync_daemon.app import App, poll_once
from sync_daemon.config import Settings
from sync_daemon.core import logs, redaction
from sync_daemon.engine.receipts import ReceiptWriter
from sync_daemon.service.demo_report import Simulators, build_report, print_report
from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.orders import demo_orders
from sync_daemon.simulators.shopback import ShopBackSimulator
from sync_daemon.simulators.tracktor import TracktorSimulator
from sync_daemon.simulators.woocommerce import WooCommerceSimulator

RETRY_SCHEDULE = [1.0, 2.0, 4.0]  # seconds, so the demo's retries land while you watch
DEMO_ORIGIN = "https://shop.example.com"
CLICK_META_KEY = "_shopback_transaction_id"
CLICKED = {1002: "102demo1002click", 1005: "102demo1005click", 1009: "102demo1009click"}  # order → click id
# order → (carrier, tracking number, shipment status): what Tracktor knows of the shipped ones.
SHIPPED = {1001: ("Pathao", "PX1001", "delivered"), 1003: ("Steadfast", "SF1003", "in_transit")}


def demo_settings(sims: Simulators, state_dir: str) -> Settings:
    """Settings pointing at the simulators (environment and config files are ignored)."""
    shop = sims.woocommerce.credentials
    settings = Settings.model_validate(
        {
            "state_dir": state_dir,
            "log_level": "error",
            "woocommerce": {
                "url": sims.woocommerce.url,
                "consumer_key": shop["consumer_key"],
                "consumer_secret": shop["consumer_secret"],
                "initial_window_days": 2,
            },
            "delivery": {"retry_schedule_seconds": RETRY_SCHEDULE, "retry_jitter": 0},
            "gotrack": {
                "enabled": True,
                "endpoint": sims.gotrack.endpoint,
                "api_key": sims.gotrack.credentials["api_key"],
                "api_secret": sims.gotrack.credentials["api_secret"],
            },
            "orderrepo": {
                "enabled": True,
                "base_url": sims.orderrepo.url,
                "api_key": sims.orderrepo.api_key,
                "origin": DEMO_ORIGIN,
                "fallback_image_url": "https://shop.example.com/wp-content/uploads/placeholder.png",
            },
            "shopback": {
                "enabled": True,
                "endpoint": sims.shopback.endpoint,
                "offer_id": sims.shopback.offer_id,
                "security_token": sims.shopback.security_token,
                "transaction_id_meta_key": CLICK_META_KEY,
            },
            "tracktor": {
                "enabled": True,
                "base_url": sims.tracktor.base_url,
                "uuid": sims.tracktor.uuid,
                "api_key": sims.tracktor.api_key,
                "order_id_source": "order_id",
            },
        }
    )
    redaction.register(*settings.secrets())
    return settings


def _seed(sims: Simulators) -> list[dict[str, Any]]:
    """The dozen demo orders in the shop, three from a ShopBack click, two shipped with Tracktor."""
    orders = demo_orders()
    for order in orders:
        click = CLICKED.get(order["id"])
        if click:
            order["meta_data"].append({"id": order["id"] * 100 + 99, "key": CLICK_META_KEY, "value": click})
    sims.woocommerce.add_orders(orders)
    sims.shopback.register_clicks(list(CLICKED.values()))
    for order_id, (carrier, tracking_number, status) in SHIPPED.items():
        sims.tracktor.add_order(str(order_id), fulfillments=[
            {"carrier": carrier, "tracking_number": tracking_number, "shipment_status": status}])
    sims.gotrack.add_fault("status", status=503, count=2)
    return orders


def run_demo(passes: int = 3, echo: Callable[[str], Any] = print) -> dict[str, Any]:
    """Seed the shop, run ``passes`` passes, read statuses back and write them, print and return what landed."""
    logs.configure("error", "console")
    with ExitStack() as stack:
        sims = Simulators(
            woocommerce=stack.enter_context(WooCommerceSimulator()),
            gotrack=stack.enter_context(GoTrackSimulator()),
            orderrepo=stack.enter_context(OrderRepoSimulator(allowed_origins=(DEMO_ORIGIN,))),
            shopback=stack.enter_context(ShopBackSimulator()),
            tracktor=stack.enter_context(TracktorSimulator()),
        )
        state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sync-daemon-demo-"))
        orders = _seed(sims)
        settings = demo_settings(sims, state_dir)
        echo(f"A simulated WooCommerce shop with {len(orders)} orders, and simulated GoTrack, OrderRepo, ShopBack"
             " and Tracktor, all on this machine.")
        echo(f"{len(CLICKED)} orders came from a ShopBack click; {len(SHIPPED)} are shipped with Tracktor; GoTrack"
             " answers its first 2 requests with 503, to show retries.\n")
        for number in range(1, passes + 1):
            (summary,) = poll_once(settings)
            read = f"{summary.fetched} order{'' if summary.fetched == 1 else 's'}"
            echo(
                f"pass {number}: {read} read from the shop; deliveries: {summary.new} queued,"
                f" {summary.delivered} made, {summary.retrying} to retry, {summary.rejected} refused"
            )
            if number < passes:
                time.sleep(max(RETRY_SCHEDULE[0] * 1.5, 1))
        with App(settings) as app:  # what the daemon does on its schedule: statuses read back, then written
            app.engine.pull_all_statuses()
            plans = app.status_writer().apply()
            # A status written back is news for OrderRepo: the daemon sends it on (a pass that only delivers).
            app.engine.sync_pass(read_source=False)
            # Receipts and rejection notes into the shop's orders, as the daemon's receipts job does.
            ReceiptWriter.of(app.engine).run()
            report = build_report(app.ledger, sims, orders, plans)
    print_report(report, echo)
    return report
