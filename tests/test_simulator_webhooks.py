"""The WooCommerce simulator's webhooks against the daemon's real listener: ping, signatures, faults."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.service.hints import HintBox
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import Metrics
from sync_daemon.simulators.orders import make_order
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import WooCommerceSource
from tests.e2e.harness import wait_until

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


SECRET = "simulated-webhook-secret"
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def listener():
    hints, metrics = HintBox(), Metrics()
    settings = ServerSettings(listen="127.0.0.1:0", woocommerce_secret=SECRET)
    server = Listener(ListenerApp(Routes(lambda: settings, hints, metrics)), settings)
    server.start()
    host, port = server.address
    yield f"http://{host}:{port}/webhooks/woocommerce", hints, metrics
    server.stop()


def verdicts(metrics: Metrics) -> str:
    return metrics.render().decode()


def test_creation_pings_and_deliveries_are_signed(woocommerce, listener):
    url, hints, metrics = listener
    hook = woocommerce.webhooks.create(url, "order.created", SECRET)
    assert hook["status"] == "active"
    assert 'verdict="ping"} 1.0' in verdicts(metrics)
    woocommerce.add_orders([make_order(41, created=CREATED)])
    assert wait_until(lambda: len(hints) == 1, timeout=10)
    assert hints.take() == [41]


def test_a_ping_refused_means_no_webhook(woocommerce, listener):
    url, _, _ = listener
    with pytest.raises(ValueError, match="404"):
        woocommerce.webhooks.create(url.replace("/woocommerce", "/nowhere"), "order.created", SECRET)
    assert woocommerce.webhooks.hooks == {}


def test_a_wrong_secret_is_refused(woocommerce, listener):
    url, hints, metrics = listener
    woocommerce.webhooks.create(url, "order.created", "another-secret")
    woocommerce.add_orders([make_order(42, created=CREATED)])
    assert wait_until(lambda: 'verdict="bad_signature"} 1.0' in verdicts(metrics), timeout=10)
    assert len(hints) == 0


def test_disabled_after_more_than_five_failed_deliveries(woocommerce):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    hook = woocommerce.webhooks.create(f"http://127.0.0.1:{port}/webhooks/woocommerce", "order.created", SECRET,
                                       ping=False)
    woocommerce.add_orders([make_order(100 + index, created=CREATED) for index in range(7)])
    assert wait_until(lambda: woocommerce.webhooks.hooks[hook["id"]]["status"] == "disabled", timeout=20)
    assert woocommerce.webhooks.hooks[hook["id"]]["failure_count"] == 6


def test_duplicates_late_and_missing_deliveries(woocommerce, listener):
    url, hints, _ = listener
    webhooks = woocommerce.webhooks
    webhooks.create(url, "order.created", SECRET)
    webhooks.duplicates, webhooks.delay_seconds, webhooks.drop_next = 3, 0.3, 1
    woocommerce.add_orders([make_order(51, created=CREATED), make_order(52, created=CREATED)])
    assert wait_until(lambda: sum(1 for sent in webhooks.sent if sent["status"] == 200) == 3, timeout=10)
    assert [sent["status"] for sent in webhooks.sent if sent["order"] == 51] == ["dropped"]
    assert hints.take() == [52]  # three deliveries, one hint


def test_address_and_meta_edits_fire_on_both_storages_and_bump_only_under_hpos(woocommerce, listener):
    url, hints, _ = listener
    woocommerce.add_orders([make_order(61, created=CREATED)])
    woocommerce.webhooks.create(url, "order.updated", SECRET)
    before = woocommerce.get_order(61)["date_modified_gmt"]
    shop = WooCommerceSource(WooCommerceSettings(url=woocommerce.url, consumer_key=woocommerce.consumer_key,
                                                 consumer_secret=woocommerce.consumer_secret))
    shop.update_order(61, {"shipping": {"address_1": "Road 1"}})
    shop.update_order(61, {"meta_data": [{"key": "gift_note", "value": "hello"}]})
    after = woocommerce.get_order(61)
    assert (after["date_modified_gmt"] != before) == (woocommerce.storage == "hpos")
    assert after["shipping"]["address_1"] == "Road 1"
    assert wait_until(lambda: len(hints) == 1, timeout=10)
