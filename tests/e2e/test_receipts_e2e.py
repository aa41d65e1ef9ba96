"""Receipts and rejection notes read back from the simulated shop, with the real CLI and every delivering platform.

GoTrack, OrderRepo and ShopBack each get an order they take (a receipt in its meta) and one they do
not (a private note): a mapping's rejection (GoTrack: no phone; ShopBack: a malformed click id), a
platform's 4xx (OrderRepo) and retries run out (GoTrack). The merchant then fixes each order through
the simulator's admin route, the edit is sent by itself, and its receipt follows. Writing the
receipts bumps ``date_modified`` (the simulator behaves as HPOS): the orders are read back, and no
platform is sent anything again.
"""

from __future__ import annotations

import copy
import sqlite3
import time

import requests

from sync_daemon.simulators.orders import generate_orders, make_order

from .harness import Daemon, wait_until, write_config
from .test_shopback_e2e import META_KEY, click_order

CLICK = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
FIXED_CLICK = "b1b2c3d4e5f60718293a4b5c6d7e8f91"
DIES_CLICK = "c1b2c3d4e5f60718293a4b5c6d7e8f92"


def config_for(tmp_path, woocommerce, gotrack, orderrepo, shopback, **extra):
    """All three delivering platforms; two retries, so a delivery is given up quickly."""
    return write_config(
        tmp_path / "config.toml", woocommerce, gotrack, orderrepo,
        **{
            "delivery.retry_schedule_seconds": "[0.2, 0.2]",
            "shopback.enabled": "true",
            "shopback.endpoint": f'"{shopback.endpoint}"',
            "shopback.offer_id": f'"{shopback.offer_id}"',
            "shopback.security_token": f'"{shopback.security_token}"',
            "shopback.timeout_seconds": "2",
            **extra,
        },
    )


def receipts(woocommerce, order_id) -> dict[str, str]:
    return {entry["key"]: entry["value"] for entry in woocommerce.get_order(order_id)["meta_data"]
            if entry["key"].startswith("sync_daemon_")}


def daemon_notes(woocommerce, order_id) -> list[str]:
    return [note["note"] for note in woocommerce.notes(order_id) if not note["customer_note"]
            and ("sync-daemon" in note["note"] or "refused this order" in note["note"])]


def admin_edit(woocommerce, order_id, change) -> None:
    """The merchant edits the order in wp-admin and saves it (the simulator's admin route)."""
    order = woocommerce.get_order(order_id)
    fields = change(copy.deepcopy(order))
    response = requests.patch(f"{woocommerce.url}/__admin__/orders/{order_id}", json=fields, timeout=10)
    assert response.status_code == 200, response.text


def platform_requests(gotrack, orderrepo, shopback):
    return (gotrack.requests_by_external_id(), orderrepo.requests_by_id(), shopback.requests_by_transaction_id())


def test_receipts_and_rejection_notes_for_every_delivering_platform(tmp_path, woocommerce, gotrack, orderrepo,
                                                                      shopback):
    shopback.register_clicks([CLICK, FIXED_CLICK, DIES_CLICK])
    config = config_for(tmp_path, woocommerce, gotrack, orderrepo, shopback)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        # First an order GoTrack answers 503 until its retries run out, and OrderRepo refuses (422).
        gotrack.add_fault("status", status=503, path="/orders", count=3)
        orderrepo.add_fault("status", status=422, path="/api/orders/track", count=1)
        woocommerce.add_orders([click_order(1004, DIES_CLICK)])
        assert wait_until(lambda: len(daemon_notes(woocommerce, 1004)) == 2, timeout=90), daemon.log_lines()[-20:]
        gotrack.clear_faults()
        # Then one every platform takes, one without a phone number, one with a malformed click id.
        woocommerce.add_orders([
            click_order(1001, CLICK),
            make_order(1002, billing={"phone": ""}, shipping={"phone": ""}),
            click_order(1003, "not-a-click!"),
        ])
        assert wait_until(lambda: len(receipts(woocommerce, 1001)) == 3 and daemon_notes(woocommerce, 1002)
                          and daemon_notes(woocommerce, 1003), timeout=60), daemon.log_lines()[-20:]

        assert receipts(woocommerce, 1001)["sync_daemon_gotrack"].startswith("GoTrack #")
        assert receipts(woocommerce, 1001)["sync_daemon_orderrepo"].startswith("OrderRepo #1001 · ")
        assert receipts(woocommerce, 1001)["sync_daemon_shopback"].startswith(f"ShopBack #{CLICK} · ")
        assert daemon_notes(woocommerce, 1002) == [
            "sync-daemon could not send this order to GoTrack: the order has no customer phone number (billing or"
            " shipping). Fix this in the order and save it: the order is sent again by itself."]
        [shopback_note] = daemon_notes(woocommerce, 1003)
        assert shopback_note.startswith("sync-daemon could not send this order to ShopBack: the ShopBack"
                                        " transaction_id 'not-a-click!'")
        notes_1004 = sorted(daemon_notes(woocommerce, 1004))
        assert notes_1004[0].startswith("OrderRepo refused this order: ")
        assert notes_1004[1].startswith("sync-daemon gave up sending this order to GoTrack (gave up after 3 attempts")
        assert "sync-daemon resync 1004" in notes_1004[1]
        assert set(receipts(woocommerce, 1004)) == {"sync_daemon_shopback"}
        logged = [(line["event"], line["order_id"], line["destination"]) for line in daemon.log_lines()
                  if line.get("event") in ("order rejected", "delivery given up")]
        assert sorted(logged) == [("delivery given up", 1004, "gotrack"), ("order rejected", 1002, "gotrack"),
                                  ("order rejected", 1003, "shopback"), ("order rejected", 1004, "orderrepo")]

        # The merchant fixes each order and saves it: each edit is sent by itself.
        def add_phone(order):
            return {"billing": {**order["billing"], "phone": "01710000002"}}

        def fix_click(order):
            return {"meta_data": [{**entry, "value": FIXED_CLICK} if entry["key"] == META_KEY else entry
                                  for entry in order["meta_data"]]}

        def new_phone(order):  # a change both GoTrack's and OrderRepo's payloads carry
            return {"billing": {**order["billing"], "phone": "01710000009"}}

        # In a later second than the daemon's last write into these orders: a poll tells an edit by
        # its date_modified, and one in the very second of a write the daemon already read back would
        # wait for the reconcile sweep (one-second stamps; see docs/architecture.md).
        time.sleep(1.5)
        admin_edit(woocommerce, 1002, add_phone)
        admin_edit(woocommerce, 1003, fix_click)
        admin_edit(woocommerce, 1004, new_phone)
        assert wait_until(lambda: "sync_daemon_gotrack" in receipts(woocommerce, 1002)
                          and "sync_daemon_shopback" in receipts(woocommerce, 1003)
                          and len(receipts(woocommerce, 1004)) == 3, timeout=60), (
            [receipts(woocommerce, order_id) for order_id in (1002, 1003, 1004)], daemon.log_lines()[-8:])
        assert receipts(woocommerce, 1003)["sync_daemon_shopback"].startswith(f"ShopBack #{FIXED_CLICK} · ")

        # The receipts' writes bumped date_modified: the next passes read the orders back and send nothing.
        before = platform_requests(gotrack, orderrepo, shopback)
        passes = sum(line.get("event") == "pass finished" for line in daemon.log_lines())
        assert wait_until(lambda: sum(line.get("event") == "pass finished" for line in daemon.log_lines())
                          >= passes + 3, timeout=60)
        assert platform_requests(gotrack, orderrepo, shopback) == before
        assert all(len(daemon_notes(woocommerce, order_id)) == count
                   for order_id, count in ((1002, 1), (1003, 1), (1004, 2)))  # no note twice
    finally:
        assert daemon.stop() == 0


def outbox_unwritten(state_dir) -> int:
    """Receipts the ledger has not marked written (read-only, as the daemon left them)."""
    with sqlite3.connect(f"file:{state_dir / 'ledger.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'receipt' AND written_at IS NULL").fetchone()[0]


def test_kill_9_between_the_receipts_write_and_the_ledgers_commit_writes_nothing_twice(tmp_path, woocommerce,
                                                                                         gotrack, orderrepo):
    ids = woocommerce.add_orders(generate_orders(30, seed=4, start_id=5000))
    # The shop applies the first batch at once and answers only 60 s later: the kill falls in between.
    woocommerce.add_fault("commit_then_slow", delay=60, path="/orders/batch", count=1)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    state_dir = tmp_path / "state"
    first = Daemon(config, tmp_path / "first.log")
    try:
        assert wait_until(lambda: any(write["kind"] == "batch" for write in woocommerce.writes()), timeout=60)
    finally:
        first.kill()
    assert outbox_unwritten(state_dir) == 2 * len(ids)  # in the order, but the ledger does not know it
    assert all(len(receipts(woocommerce, order_id)) == 2 for order_id in ids)

    second = Daemon(config, tmp_path / "second.log")
    try:
        assert wait_until(lambda: outbox_unwritten(state_dir) == 0, timeout=60), second.log_lines()[-10:]
        passes = sum(line.get("event") == "pass finished" for line in second.log_lines())
        assert wait_until(lambda: sum(line.get("event") == "pass finished" for line in second.log_lines())
                          >= passes + 2, timeout=60)  # the orders the writes bumped were read back
    finally:
        assert second.stop() == 0
    batches = [write for write in woocommerce.writes() if write["kind"] == "batch"]
    assert [sorted(batch["order_ids"]) for batch in batches] == [ids, ids]  # written again, as a whole
    for order_id in ids:
        keys = [entry["key"] for entry in woocommerce.get_order(order_id)["meta_data"]]
        assert keys.count("sync_daemon_gotrack") == keys.count("sync_daemon_orderrepo") == 1
    assert set(gotrack.requests_by_external_id().values()) == {1}  # no order went to a platform again
    assert {counts["track"] for counts in orderrepo.requests_by_id().values()} == {1}
    assert not any(counts.get("update") for counts in orderrepo.requests_by_id().values())
