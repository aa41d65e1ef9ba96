"""The WooCommerce simulator's webhooks against the daemon's real listener: ping, signatures, faults."""

from __future__ import annotations

import http.server
import socket
import threading
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


def shop_for(woocommerce) -> WooCommerceSource:
    return WooCommerceSource(WooCommerceSettings(url=woocommerce.url, consumer_key=woocommerce.consumer_key,
                                                 consumer_secret=woocommerce.consumer_secret))


class Recorder:
    """A bare HTTP server that records what is posted to it and answers 200."""

    def __init__(self, seen: list[tuple[bytes, dict[str, str]]]) -> None:
        outer = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.append((body, {name.lower(): value for name, value in self.headers.items()}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/woocommerce"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


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


def test_a_failed_ping_still_saves_the_webhook_with_201(woocommerce, listener):
    """Real WooCommerce answers 201 and pings afterwards; the ping's failure is not in the answer."""
    url, _, _ = listener
    answer = shop_for(woocommerce)._request("post", "webhooks", data={
        "name": "x", "topic": "order.created", "delivery_url": url.replace("/woocommerce", "/nowhere"),
        "secret": SECRET})
    assert answer.status_code == 201 and answer.json()["status"] == "active"
    assert woocommerce.webhooks.pings == [(answer.json()["id"], 404)]


def test_ping_is_an_unsigned_form_post(woocommerce):
    seen: list[tuple[bytes, dict[str, str]]] = []
    with Recorder(seen) as url:
        hook = woocommerce.webhooks.create(url, "order.created", SECRET)
    body, headers = seen[0]
    assert body == b"webhook_id=%d" % hook["id"]
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert not [name for name in headers if name.startswith("x-wc-webhook")]


def test_delivery_ids_are_one_per_webhook_per_second(woocommerce, listener):
    url, hints, _ = listener
    webhooks = woocommerce.webhooks
    woocommerce.add_orders([make_order(70 + index, created=CREATED) for index in range(5)])
    webhooks.create(url, "order.updated", SECRET)  # after the orders: their creation fires order.updated too
    webhooks.clock = lambda: 1_800_000_000.2  # a batch edit of four orders, all within one second
    for order in (70, 71, 72, 73):
        woocommerce.edit_order(order, customer_note="batch")
    assert wait_until(lambda: len(webhooks.sent) == 4, timeout=10)
    webhooks.clock = lambda: 1_800_000_001.0  # the next second: another id
    woocommerce.edit_order(74, customer_note="later")
    assert wait_until(lambda: len(webhooks.sent) == 5, timeout=10)
    ids = [sent["delivery_id"] for sent in webhooks.sent]
    assert len(set(ids[:4])) == 1 and ids[4] != ids[0]
    assert hints.take() == [70, 71, 72, 73, 74]  # the daemon's listener takes every one


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
    url, hints, metrics = listener
    webhooks = woocommerce.webhooks
    webhooks.create(url, "order.created", SECRET)
    webhooks.duplicates, webhooks.delay_seconds, webhooks.drop_next = 3, 0.3, 1
    woocommerce.add_orders([make_order(51, created=CREATED), make_order(52, created=CREATED)])
    assert wait_until(lambda: sum(1 for sent in webhooks.sent if sent["status"] == 200) == 3, timeout=10)
    assert [sent["status"] for sent in webhooks.sent if sent["order"] == 51] == ["dropped"]
    sent = [entry for entry in webhooks.sent if entry["order"] == 52]
    assert len({entry["delivery_id"] for entry in sent}) == 1  # replays: the same request three times
    assert hints.take() == [52]  # three deliveries, one hint
    assert 'verdict="duplicate"} 2.0' in verdicts(metrics)


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


def test_a_new_order_fires_created_and_then_updated(woocommerce, listener):
    """WooCommerce fires ``order.created`` and ``order.updated`` for a new order (woocommerce-facts.md)."""
    url, hints, _ = listener
    webhooks = woocommerce.webhooks
    webhooks.create(url, "order.created", SECRET)
    webhooks.create(url, "order.updated", SECRET)
    woocommerce.add_orders([make_order(90, created=CREATED)])
    assert wait_until(lambda: len(webhooks.sent) == 2, timeout=10)
    assert [sent["topic"] for sent in webhooks.sent] == ["order.created", "order.updated"]
