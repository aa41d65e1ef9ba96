"""The real daemon with its listener: a signed WooCommerce webhook gets an order delivered long before
the 60 s poll, a silent address edit reaches OrderRepo exactly once, /healthz and /metrics answer, and a
port already in use stops the start with exit code 2."""

from __future__ import annotations

import json
import socket
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.simulators.orders import make_order

from .harness import Daemon, run_cli, wait_until, write_config

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


SECRET = "e2e-webhook-secret-value"
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def webhook_config(tmp_path, woocommerce, orderrepo, port: int, **overrides: str):
    return write_config(
        tmp_path / "config.toml", woocommerce, orderrepo=orderrepo,
        poll_interval_seconds="60",  # a hint must not wait for this
        **{"server.enabled": "true", "server.listen": f'"127.0.0.1:{port}"',
           "server.woocommerce_secret": f'"{SECRET}"', "orderrepo.data_fields": '["delivery_address"]',
           **overrides},
    )


def test_a_webhook_delivers_at_once_and_a_silent_edit_lands_once(tmp_path, woocommerce, orderrepo):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    woocommerce.add_orders([make_order(300, created=CREATED)])
    daemon = Daemon(webhook_config(tmp_path, woocommerce, orderrepo, port), tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(orderrepo.orders()) == 1, timeout=30)  # the first poll, at start
        assert wait_until(lambda: get(f"{base}/healthz")[0] == 200, timeout=30)
        woocommerce.webhooks.create(f"{base}/webhooks/woocommerce", "order.created", SECRET)
        woocommerce.webhooks.create(f"{base}/webhooks/woocommerce", "order.updated", SECRET)

        woocommerce.add_orders([make_order(301, created=datetime.now(UTC).replace(microsecond=0))])
        # Well inside the 60 s poll interval: only the hint can have brought it.
        assert wait_until(lambda: len(orderrepo.orders()) == 2, timeout=30)

        order = woocommerce.get_order(300)
        shipping = {**order["shipping"], "address_1": "House 9, Road 12, Banani"}
        woocommerce.edit_order(300, shipping=shipping, date_modified_gmt=order["date_modified_gmt"])

        def updated() -> int:
            return next(o for o in orderrepo.orders() if o["external_id"] == "300")["update_requests"]

        assert wait_until(lambda: updated() == 1, timeout=30)
        status, text = get(f"{base}/metrics")
        assert status == 200
        assert b'sync_daemon_webhooks_received_total{source="woocommerce",verdict="hint"}' in text
        assert b'sync_daemon_deliveries{platform="orderrepo",state="delivered"} 2.0' in text
        assert SECRET.encode() not in text
        assert json.loads(get(f"{base}/healthz")[1])["status"] == "ok"
    finally:
        assert daemon.stop() == 0
    assert updated() == 1
    assert SECRET not in (tmp_path / "daemon.log").read_text()


def test_a_port_in_use_stops_the_start_with_exit_code_2(tmp_path, woocommerce, orderrepo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", config=webhook_config(tmp_path, woocommerce, orderrepo, port), timeout=60)
    assert result.returncode == 2
    assert "cannot listen" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_batch_edit_in_one_second_updates_every_order_at_once(tmp_path, woocommerce, orderrepo):
    """Four deliveries with one WooCommerce delivery id (one webhook, one second) are four hints;
    replays of them (the same body and signature) are dropped without a read of their own."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    orders = (310, 311, 312, 313)
    woocommerce.add_orders([make_order(number, created=CREATED) for number in orders])
    daemon = Daemon(webhook_config(tmp_path, woocommerce, orderrepo, port), tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(orderrepo.orders()) == 4, timeout=30)
        assert wait_until(lambda: get(f"{base}/healthz")[0] == 200, timeout=30)
        webhooks = woocommerce.webhooks
        webhooks.create(f"{base}/webhooks/woocommerce", "order.updated", SECRET)
        webhooks.clock = lambda: 1_800_000_000.5  # the whole batch within one second
        webhooks.duplicates = 2  # and each delivery replayed once
        for number in orders:
            order = woocommerce.get_order(number)
            shipping = {**order["shipping"], "address_1": f"House {number}, Road 12, Banani"}
            woocommerce.edit_order(number, shipping=shipping, date_modified_gmt=order["date_modified_gmt"])

        def updates() -> list[int]:
            return sorted(o["update_requests"] for o in orderrepo.orders())

        # Well inside the 60 s poll interval and the hourly sweep: only the four hints can do it.
        assert wait_until(lambda: updates() == [1, 1, 1, 1], timeout=30)
        assert len({sent["delivery_id"] for sent in webhooks.sent}) == 1
        text = get(f"{base}/metrics")[1].decode()
        assert 'sync_daemon_webhooks_received_total{source="woocommerce",verdict="duplicate"} 4.0' in text
    finally:
        assert daemon.stop() == 0
    assert updates() == [1, 1, 1, 1]
