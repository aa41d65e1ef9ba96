"""The real CLI against the WooCommerce and ShopBack simulators, with a real SQLite ledger."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import requests

from sync_daemon.simulators.orders import generate_orders, make_order
from sync_daemon.simulators.shopback import postback_url

from .harness import Daemon, run_cli, wait_until, write_config

META_KEY = "_shopback_transaction_id"


def shopback_config(path: Path, woocommerce, shopback, **extra) -> Path:
    """Only ShopBack enabled; write_config appends the [shopback] section it does not know."""
    return write_config(
        path,
        woocommerce,
        gotrack=None,
        **{
            "shopback.enabled": "true",
            "shopback.endpoint": f'"{shopback.endpoint}"',
            "shopback.offer_id": f'"{shopback.offer_id}"',
            "shopback.security_token": f'"{shopback.security_token}"',
            "shopback.timeout_seconds": "30",  # the simulator answers from this busy test process
            **extra,
        },
    )


def click_order(order_id: int, click: str, **overrides) -> dict:
    order = make_order(order_id, **overrides)
    order["meta_data"].append({"id": order_id * 100 + 9, "key": META_KEY, "value": click})
    return order


def net_amount(order: dict) -> str:
    """The default amount: total − shipping − all tax, two decimals."""
    amount = Decimal(order["total"]) - Decimal(order["shipping_total"]) - Decimal(order["total_tax"])
    return f"{amount:.2f}"


def status_json(config: Path, *args: str) -> dict:
    result = run_cli("status", *args, "--json", config=config)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def state_files_text(config: Path) -> str:
    """Every byte of the ledger (database, WAL, shared memory), as text."""
    return "".join(p.read_bytes().decode("latin-1") for p in (config.parent / "state").iterdir() if p.is_file())


def test_run_reports_each_clicked_order_once_and_skips_the_rest(tmp_path, woocommerce, shopback):
    clicks = {9001 + index: f"{index + 1:02d}2b983f153f632c9a0a1469e27b55" for index in range(5)}
    shopback.register_clicks(list(clicks.values()))
    clicked = [click_order(order_id, click) for order_id, click in clicks.items() if order_id != 9003]
    odd = click_order(9003, clicks[9003])
    odd["meta_data"].append({"id": 900399, "key": "_note", "value": "WC 9003 & ৯"})  # odd characters survive encoding
    clicked.append(odd)
    unclicked = generate_orders(3, seed=2, start_id=9100)
    malformed = click_order(9200, "not-a-click!")
    woocommerce.add_orders([*clicked, *unclicked, malformed])
    # A crash after the postback went out but before the ledger noted it: ShopBack already has it.
    already = requests.get(
        postback_url(
            shopback.endpoint,
            {
                "offer_id": shopback.offer_id,
                "adv_sub": "9005",
                "transaction_id": clicks[9005],
                "amount": "1.00",
                "security_token": shopback.security_token,
            },
        ),
        timeout=5,
    )
    assert already.text == "sucess=true;"

    config = shopback_config(
        tmp_path / "config.toml", woocommerce, shopback, **{"shopback.extra_fields": '{ adv_sub2 = "meta:_note" }'}
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(
            lambda: len(shopback.conversions()) == 5 and shopback.requests_by_transaction_id().get(clicks[9005]) == 2,
            timeout=20,
        ), shopback.admin_conversions()
        assert wait_until(lambda: status_json(config)["counts"].get("shopback", {}).get("delivered") == 5, timeout=15)
    finally:
        assert daemon.stop() == 0

    # Exactly the orders with a click id, once each (9005: our pre-recorded request + the daemon's one).
    requests_by_click = shopback.requests_by_transaction_id()
    assert requests_by_click == {click: (2 if order_id == 9005 else 1) for order_id, click in clicks.items()}
    by_click = {conversion["transaction_id"]: conversion for conversion in shopback.conversions()}
    for order in clicked:
        params = by_click[clicks[order["id"]]]["params"]
        if order["id"] == 9005:
            continue  # recorded by the hand-made request above
        assert params == {
            "offer_id": shopback.offer_id,
            "adv_sub": order["number"],
            "transaction_id": clicks[order["id"]],
            "amount": net_amount(order),
            **({"adv_sub2": "WC 9003 & ৯"} if order["id"] == 9003 else {}),
        }

    # Read-only CLI calls run side by side: each is a fresh interpreter.
    commands = [
        ("status", "--json"),
        ("status", "9005", "--json"),
        ("status", "9200", "--json"),
        ("status", str(unclicked[0]["id"]), "--json"),
        ("status",),
        ("status", "9005"),
    ]
    with ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(lambda args: run_cli(*args, config=config), commands))
    assert all(result.returncode == 0 for result in results), [result.stderr for result in results]
    summary, duplicate, rejected, skipped = (json.loads(result.stdout) for result in results[:4])
    assert summary["counts"]["shopback"]["skipped"] == 3
    assert summary["counts"]["shopback"]["rejected"] == 1
    assert summary["counts"]["shopback"]["delivered"] == 5
    (row,) = duplicate["deliveries"]
    assert row["state"] == "delivered" and row["remote_id"] == clicks[9005]
    assert any(attempt["message"] == "already recorded (duplicate)" for attempt in duplicate["attempts"])
    (row,) = rejected["deliveries"]
    assert row["state"] == "rejected" and "not 1 to 64 letters and digits" in row["last_error"]
    (row,) = skipped["deliveries"]
    assert row["state"] == "skipped" and META_KEY in row["last_error"]
    assert "skipped" in results[4].stdout

    token = shopback.security_token
    assert token not in daemon.log_path.read_text()
    assert all(token not in result.stdout + result.stderr for result in results)
    assert token not in state_files_text(config)  # the ledger stores payloads without the token


def test_unrecognised_answers_go_dead_with_the_body_then_resync_lands(tmp_path, woocommerce, shopback):
    click = "ABCD1234"
    shopback.register_click(click)
    order = click_order(9300, click, number="9300")
    woocommerce.add_orders([order])
    shopback.set_garbage("maintenance")
    config = shopback_config(tmp_path / "config.toml", woocommerce, shopback)

    broken = run_cli("test-connection", "shopback", config=config)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "not in ShopBack's postback format" in broken.stdout

    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        # The first postback proves the daemon opened (and migrated) the ledger before `status` reads it.
        assert wait_until(lambda: shopback.requests_by_transaction_id().get(click, 0) >= 1, timeout=15)
        assert wait_until(lambda: status_json(config)["counts"].get("shopback", {}).get("dead") == 1, timeout=15)
    finally:
        assert daemon.stop() == 0
    assert shopback.requests_by_transaction_id() == {click: 3}  # a few tries, then dead
    (row,) = status_json(config, "9300")["deliveries"]
    assert row["attempts"] == 3
    assert "gave up after 3 attempts" in row["last_error"] and "'maintenance'" in row["last_error"]

    shopback.set_garbage(None)
    checked = run_cli("test-connection", "shopback", "--json", config=config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (result,) = json.loads(checked.stdout)
    assert result["ok"] and "only a real conversion proves them" in result["message"]
    assert shopback.conversions() == []  # the probe recorded nothing

    resync = run_cli("resync", "9300", "--json", config=config)
    assert resync.returncode == 0, resync.stdout + resync.stderr
    (landed,) = json.loads(resync.stdout)
    assert landed["landed"] and landed["remote_id"] == click
    conversion = shopback.conversion(click)
    assert conversion["requests"] == 4 and conversion["params"]["amount"] == net_amount(order)

    token = shopback.security_token
    for text in (daemon.log_path.read_text(), broken.stdout, checked.stdout, resync.stdout, state_files_text(config)):
        assert token not in text
