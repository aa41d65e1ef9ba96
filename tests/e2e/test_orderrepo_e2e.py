"""OrderRepo end to end: the real CLI, both destinations, the OrderRepo simulator's contract."""

from __future__ import annotations

import json

from sync_daemon.simulators.orders import generate_orders

from .harness import Daemon, run_cli, wait_until, write_config


def status_of(config):
    # A daemon just started may not have created its ledger yet; status never creates one.
    assert wait_until(lambda: (config.parent / "state" / "ledger.sqlite3").exists(), timeout=20)
    result = run_cli("status", "--json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def repo_ids(orderrepo):
    return {order["external_id"] for order in orderrepo.orders()}


def test_both_destinations_and_one_down_does_not_delay_the_other(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(30, seed=2, start_id=3000))
    orderrepo.set_faults([{"kind": "status", "status": 503}])  # down until cleared
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(gotrack.orders()) == 30, timeout=30)
        assert repo_ids(orderrepo) == set()
        summary = status_of(config)
        assert summary["counts"]["gotrack"]["delivered"] == 30
        assert summary["counts"]["orderrepo"]["delivered"] == 0
        orderrepo.clear_faults()
        assert wait_until(lambda: len(repo_ids(orderrepo)) == 30, timeout=40)
    finally:
        assert daemon.stop() == 0
    assert all(order["track_requests"] == 1 for order in orderrepo.orders())
    first = orderrepo.order("3000")
    assert first["payload"]["currency"] == "BDT" and isinstance(first["payload"]["total"], int)


def test_duplicate_after_crash_is_confirmed_and_recorded_as_delivered(tmp_path, woocommerce, gotrack, orderrepo):
    (order,) = generate_orders(1, seed=9, start_id=4100)
    woocommerce.add_orders([order])
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo)
    # The create landed once before, but the ledger never heard of it (a crash between send and commit).
    import requests

    requests.post(f"{orderrepo.url}/api/orders/track", timeout=5,
                  headers={"X-API-KEY": orderrepo.api_key, "Origin": "https://shop.example.com"},
                  json={"id": "4100", "total": 100, "currency": "BDT"})
    result = run_cli("resync", "4100", "--json", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    (outcome,) = json.loads(result.stdout)
    assert outcome["outcome"] == "delivered" and "already existed" in outcome["message"]
    stored = orderrepo.order("4100")
    assert stored["payload"]["total"] == round(float(order["total"]) * 100)  # brought up to date
    assert len(orderrepo.orders()) == 1


def test_edit_after_delivery_sends_exactly_one_update(tmp_path, woocommerce, gotrack, orderrepo):
    (order,) = generate_orders(1, seed=4, start_id=4200)
    woocommerce.add_orders([order])
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: repo_ids(orderrepo) == {"4200"}, timeout=20)
        woocommerce.edit_order(4200, shipping={**order["shipping"], "address_1": "New Road 9"})
        assert wait_until(lambda: orderrepo.order("4200")["update_requests"] == 1, timeout=20)
        # Several more polls re-read the order (overlap window): nothing more is sent.
        polls = len([line for line in daemon.log_lines() if line.get("event") == "pass finished"])
        assert wait_until(lambda: len([line for line in daemon.log_lines()
                                       if line.get("event") == "pass finished"]) >= polls + 3, timeout=20)
    finally:
        assert daemon.stop() == 0
    stored = orderrepo.order("4200")
    assert (stored["track_requests"], stored["update_requests"]) == (1, 1)
    address = {pair["name"]: pair["value"] for pair in stored["payload"]["data"]}["Delivery address"]
    assert address.startswith("New Road 9")


def test_status_pull_stores_remote_status(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(3, seed=5, start_id=4300))
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo,
                          **{"orderrepo.status_pull_interval_seconds": "1"})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(repo_ids(orderrepo)) == 3, timeout=20)
        orderrepo.set_order_status("4301", "done")
        orderrepo.set_order_status("4302", "cancelled")

        def pulled():
            history = json.loads(run_cli("status", "4301", "--json", config=config).stdout)
            return history["deliveries"][0]["remote_status"] == "done"

        assert wait_until(pulled, timeout=20)
    finally:
        assert daemon.stop() == 0
    history = json.loads(run_cli("status", "4302", "--json", config=config).stdout)
    assert history["deliveries"][0]["remote_status"] == "cancelled"
    changed_at = history["deliveries"][0]["remote_status_at"]
    assert changed_at
    table = run_cli("status", "4302", config=config).stdout
    assert f"cancelled since {changed_at}" in " ".join(table.split())  # the table may wrap the cell


def test_origin_not_allowed_pauses_with_what_to_fix(tmp_path, woocommerce, gotrack, orderrepo):
    orderrepo.update_settings(allowed_origins=["https://other.example.com"])
    woocommerce.add_orders(generate_orders(2, seed=6, start_id=4400))
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: status_of(config)["destinations"].get("orderrepo", {}).get("pause_kind") == "auth",
                          timeout=20)
        assert wait_until(lambda: len(gotrack.orders()) == 2, timeout=20)  # the other platform is unaffected
    finally:
        assert daemon.stop() == 0
    text = run_cli("status", config=config).stdout
    assert "add https://shop.example.com to the OrderRepo project's domains" in text
    assert status_of(config)["counts"]["orderrepo"]["pending"] == 2
    assert orderrepo.api_key not in text + daemon.log_path.read_text()


def test_monthly_limit_pauses_and_is_visible(tmp_path, woocommerce, gotrack, orderrepo):
    orderrepo.update_settings(monthly_limit_reached=True)
    woocommerce.add_orders(generate_orders(2, seed=7, start_id=4500))
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: status_of(config)["destinations"].get("orderrepo", {}).get("pause_kind") == "quota",
                          timeout=20)
    finally:
        assert daemon.stop() == 0
    assert "Monthly order limit" in run_cli("status", config=config).stdout


def test_events_are_sent_once_per_order(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(3, seed=8, start_id=4600))
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo,
                          **{"orderrepo.events": '{ created = "evt-created" }'})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(orderrepo.events()) == 3, timeout=20)
        passes = lambda: len([x for x in daemon.log_lines() if x.get("event") == "pass finished"])  # noqa: E731
        seen = passes()
        assert wait_until(lambda: passes() >= seen + 2, timeout=20)
    finally:
        assert daemon.stop() == 0
    order_ids = sorted(next(p["value"] for p in e["data"] if p["name"] == "Order id") for e in orderrepo.events())
    assert order_ids == ["4600", "4601", "4602"]


def test_unknown_event_key_is_reported_once_not_retried(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(3, seed=8, start_id=4700))
    config = write_config(tmp_path / "config.toml", woocommerce, None, orderrepo,
                          **{"orderrepo.events": '{ created = "no-such-event" }'})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(repo_ids(orderrepo)) == 3, timeout=20)
        key = "orderrepo-event-created"
        assert wait_until(lambda: status_of(config)["destinations"].get(key, {}).get("pause_kind") == "config",
                          timeout=20)
    finally:
        assert daemon.stop() == 0
    assert orderrepo.count("POST", "/api/events/track") <= 3  # one batch at most, then paused
    assert "event key for 'created' refused" in run_cli("status", config=config).stdout


def test_done_in_orderrepo_completes_the_woocommerce_order_once(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(2, seed=10, start_id=4800))
    config = write_config(
        tmp_path / "config.toml", woocommerce, None, orderrepo,
        **{"orderrepo.status_pull_interval_seconds": "1", "writeback.interval_seconds": "1",
           # completed orders are read again too: the daemon's own write must not look like an edit
           "woocommerce.statuses": '["processing", "on-hold", "completed"]'},
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(repo_ids(orderrepo)) == 2, timeout=20)
        orderrepo.set_order_status("4800", "done")
        assert wait_until(lambda: woocommerce.get_order(4800)["status"] == "completed", timeout=20)
        # The daemon's own status write reaches OrderRepo's "WooCommerce status" once, as an update.
        assert wait_until(lambda: orderrepo.order("4800")["update_requests"] == 1, timeout=20)
        passes = lambda: len([x for x in daemon.log_lines() if x.get("event") == "pass finished"])  # noqa: E731
        seen = passes()
        assert wait_until(lambda: passes() >= seen + 3, timeout=20)
        assert orderrepo.order("4800")["update_requests"] == 1  # not again at every pass
        # Staff reopen it; a later remote status must not fight them.
        woocommerce.edit_order(4800, status="processing")
        orderrepo.set_order_status("4800", "cancelled")
        assert wait_until(lambda: any("OrderRepo: cancelled" in n["note"] for n in woocommerce.notes(4800)), 20)
        # The staff's reopening is a real edit: it goes out once as an update.
        assert wait_until(lambda: orderrepo.order("4800")["update_requests"] == 2, timeout=20)
    finally:
        assert daemon.stop() == 0
    notes = [note["note"] for note in woocommerce.notes(4800) if note["note"].startswith("OrderRepo")]
    assert notes == ["OrderRepo: done", "OrderRepo: cancelled"]
    assert woocommerce.get_order(4800)["status"] == "processing"  # the human's choice stands
    assert woocommerce.get_order(4801)["status"] == "processing"  # untouched
    assert woocommerce.notes(4801) == []  # OrderRepo's initial "new" is not news
    stored = orderrepo.order("4800")
    assert stored["update_requests"] == 2  # the daemon's status write and the staff's reopening, each once
    shown = [pair["value"] for payload in stored["payloads"][1:] for pair in payload["data"]
             if pair["name"] == "WooCommerce status"]
    assert shown == ["completed", "processing"]
    history = run_cli("status", "4800", config=config).stdout
    assert "staff changed it" in history
