"""What ``sync-daemon demo`` shows: each order at each platform, what the platforms hold, what was written
back into the shop and the daemon's meta in an order, all read back from the simulators and the ledger.

Worded for a merchant: "orders" where orders are counted, "deliveries" where deliveries are, and
never a Python ``True``/``None``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.shopback import ShopBackSimulator
from sync_daemon.simulators.tracktor import TracktorSimulator
from sync_daemon.simulators.woocommerce import WooCommerceSimulator

DELIVERING = ("gotrack", "orderrepo", "shopback")  # the platforms orders are sent to, in the table's order
TITLES = {"gotrack": "GoTrack", "orderrepo": "OrderRepo", "shopback": "ShopBack", "tracktor": "Tracktor"}
DAEMON_META_PREFIX = "sync_daemon"  # the daemon's own order meta: receipts, tracking number, carrier …


@dataclass
class Simulators:
    """The demo's simulated shop and platforms."""

    woocommerce: WooCommerceSimulator
    gotrack: GoTrackSimulator
    orderrepo: OrderRepoSimulator
    shopback: ShopBackSimulator
    tracktor: TracktorSimulator


def build_report(ledger: Any, sims: Simulators, orders: list[dict[str, Any]], plans: Sequence[Any]) -> dict[str, Any]:
    """Every order at every platform, the platforms' totals, the write-back and one order's daemon meta."""
    held = {
        "gotrack": Counter(order["external_order_id"] for order in sims.gotrack.orders()),
        "orderrepo": Counter({order["external_id"]: order["track_requests"] for order in sims.orderrepo.orders()}),
        "shopback": Counter(conversion["transaction_id"] for conversion in sims.shopback.conversions()),
    }
    rows, notes = [], []
    states: dict[str, Counter[str]] = {name: Counter() for name in DELIVERING}
    for order in orders:
        history = ledger.order_history(order["id"]) or {"deliveries": [], "tracking": None}
        deliveries = {row["destination"]: row for row in history["deliveries"]}
        billing = order.get("billing") or {}
        row = {"order_id": order["id"], "customer": f"{billing.get('first_name', '')} {billing.get('last_name', '')}"}
        for name in DELIVERING:
            delivery = deliveries.get(name) or {"state": "not seen"}
            states[name][delivery["state"]] += 1
            row[name] = _cell(name, delivery)
            for text in (delivery.get("last_error"), delivery.get("note")):
                if text and delivery["state"] != "skipped":
                    notes.append(f"{order['id']} {TITLES[name]}: {text}")
        # Every order is asked about (tracked by its id); only the shipped ones have a status.
        row["tracktor"] = (history.get("tracking") or {}).get("shipment_status") or "-"
        rows.append(row)
    platforms = {}
    for name, counter in held.items():
        count = states[name]
        platforms[name] = {
            "delivered": count["delivered"],
            "rejected": count["rejected"],
            "left_out": count["skipped"],
            "waiting": len(orders) - count["delivered"] - count["rejected"] - count["skipped"],
            "held": len(counter),
            "none_twice": all(times == 1 for times in counter.values()),
        }
    return {
        "orders": rows,
        "notes": notes,
        "platforms": platforms,
        "written_back": [_read_back(sims.woocommerce, plan) for plan in plans if plan.status_after or plan.notes],
        "meta": _daemon_meta(sims.woocommerce, [row["order_id"] for row in rows if row["gotrack"].startswith("de")]),
        "rejection_notes": [
            {"order_id": row["order_id"], "note": note["note"]}
            for row in rows
            if any(row[name] in ("refused", "gave up") for name in DELIVERING)
            for note in sims.woocommerce.notes(row["order_id"])
        ],
    }


def _cell(name: str, delivery: dict[str, Any]) -> str:
    """One order at one platform, in a merchant's words."""
    state = delivery["state"]
    if state == "delivered":
        if name == "shopback":
            return "conversion reported"
        return f"delivered #{delivery['remote_id']}" if name == "gotrack" and delivery.get("remote_id") else "delivered"
    if state == "skipped":
        return "no click: left out" if name == "shopback" else "left out"
    return {"rejected": "refused", "dead": "gave up", "not seen": "-"}.get(state, "waiting")


def _read_back(shop: WooCommerceSimulator, plan: Any) -> dict[str, Any]:
    """What one write-back left in the shop's order: its status now and the daemon's notes."""
    order = shop.get_order(plan.order_id) or {}
    texts = [note["note"] for note in shop.notes(plan.order_id)]
    return {"order_id": plan.order_id, "status_before": plan.status_before, "status_now": order.get("status"),
            "notes": [text for text in texts if text in plan.notes]}


def _daemon_meta(shop: WooCommerceSimulator, delivered: list[int]) -> dict[str, Any]:
    """The delivered order with the most of the daemon's meta (any key starting ``sync_daemon``), as the shop has it."""
    best: dict[str, Any] = {"order_id": None, "meta": {}}
    for order_id in delivered:
        meta = {
            str(entry.get("key")): _text(entry.get("value"))
            for entry in (shop.get_order(order_id) or {}).get("meta_data") or []
            if str(entry.get("key", "")).lstrip("_").startswith(DAEMON_META_PREFIX)
        }
        if len(meta) > len(best["meta"]):
            best = {"order_id": order_id, "meta": meta}
    return best


def _text(value: Any) -> str:
    """A meta value as a merchant reads it: yes/no, empty for nothing, else its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def print_report(report: dict[str, Any], echo: Callable[[str], Any]) -> None:
    """The report as lines for a terminal."""
    echo("")
    echo(f"  {'order':<6} {'customer':<18} {'GoTrack':<15} {'OrderRepo':<10} {'ShopBack':<20} {'Tracktor':<12}")
    for row in report["orders"]:
        echo(f"  {row['order_id']:<6} {row['customer'][:18]:<18} {row['gotrack']:<15} {row['orderrepo']:<10}"
             f" {row['shopback']:<20} {row['tracktor']:<12}")
    if report["notes"]:
        echo("\nRefusals and notes from the mapping:")
        for note in report["notes"]:
            echo(f"  {note}")
    echo("")
    for name, totals in report["platforms"].items():
        twice = "none twice" if totals["none_twice"] else "SOME TWICE"
        if name == "shopback":
            echo(f"{TITLES[name]}: {totals['delivered']} conversions reported, {totals['left_out']} orders without a"
                 f" click left out; ShopBack recorded {totals['held']} conversions, {twice}")
        else:
            echo(f"{TITLES[name]}: {totals['delivered']} orders delivered, {totals['rejected']} refused,"
                 f" {totals['waiting']} waiting; {TITLES[name]} holds {totals['held']} orders, {twice}")
    shipped = [f"order {row['order_id']} {row['tracktor']}" for row in report["orders"] if row["tracktor"] != "-"]
    echo(f"Tracktor: {len(shipped)} shipment statuses read back: {', '.join(shipped) or 'none'}")
    echo("\nWritten back into the WooCommerce orders (read back from the shop):")
    for entry in report["written_back"]:
        status = (f"status {entry['status_before']} → {entry['status_now']}"
                  if entry["status_now"] != entry["status_before"] else f"status stays {entry['status_now']}")
        notes = "".join(f'; note "{note}"' for note in entry["notes"])
        echo(f"  order {entry['order_id']}: {status}{notes}")
    if not report["written_back"]:
        echo("  nothing")
    if report["rejection_notes"]:
        echo("\nPrivate notes the daemon put into refused orders (read back from the shop):")
        for entry in report["rejection_notes"]:
            echo(f"  order {entry['order_id']}: {entry['note']}")
    meta = report["meta"]
    if meta["order_id"] is None:
        echo("\nThe orders carry none of the daemon's meta (keys starting with sync_daemon).")
        return
    echo(f"\nThe daemon's meta in order {meta['order_id']} (custom fields in WooCommerce admin, read back from"
         " the shop):")
    for key, value in sorted(meta["meta"].items()):
        echo(f"  {key}: {value}")
