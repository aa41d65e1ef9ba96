"""Webhook hints for one order, read by the daemon's worker: a new order's two webhooks are one read.

WooCommerce fires ``order.created`` and ``order.updated`` about 0.15 s apart for a new order. The
hint job takes the waiting ids only once it holds the engine, so a hint that arrives while the job
waits joins its read; a hint arriving once the read has begun queues another read.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_daemon.config import Settings
from sync_daemon.service.intake import HINT_GATHER_SECONDS
from sync_daemon.service.listener import ListenerApp, Routes
from sync_daemon.service.runner import Daemon
from sync_daemon.simulators.orders import make_order
from tests.conftest import SHOP_ORIGIN
from tests.e2e.harness import wait_until
from tests.test_listener import call, wc_headers

SECRET = "whsec-test-0123456789"  # tests.test_listener's signing secret


@pytest.fixture
def daemon(tmp_path: Path, woocommerce, orderrepo):
    """A daemon (not running its schedule) whose hint jobs the test runs itself."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    settings = Settings.model_validate({
        "state_dir": str(tmp_path / "state"),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "server": {"woocommerce_secret": SECRET},
        "orderrepo": {"enabled": True, "base_url": orderrepo.url, "api_key": orderrepo.api_key,
                      "origin": SHOP_ORIGIN, "fallback_image_url": SHOP_ORIGIN + "/placeholder.png"},
    })
    running = Daemon(settings, None)
    queued: list[tuple[Any, float]] = []
    running.intake.start(lambda function, name, delay=0.0: queued.append((function, delay)), running._guarded,
                         running._pull_tracking_now)
    app = ListenerApp(Routes(lambda: settings.server, running.intake.hints, running.intake.metrics))
    try:
        yield running, app, queued
    finally:
        running.engine.close()
        running.ledger.close()
        if running.lock is not None:
            running.lock.release()
        for number, handler in handlers.items():
            signal.signal(number, handler)


def hint(app: ListenerApp, order: dict[str, Any], topic: str) -> str:
    body = json.dumps(order).encode()
    return json.loads(call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body, topic=topic))[1])["result"]


def order_reads(woocommerce) -> int:
    return sum(1 for entry in woocommerce.request_log()
               if entry["method"] == "GET" and str(entry["route"]).endswith("/orders"))


def test_a_new_orders_second_webhook_while_the_first_waits_is_the_same_read(daemon, woocommerce, orderrepo):
    running, app, queued = daemon
    order = make_order(501, created=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    woocommerce.add_orders([order])
    assert hint(app, order, "order.created") == "hint"
    assert [delay for _, delay in queued] == [HINT_GATHER_SECONDS]  # the job waits for the second webhook
    job, _ = queued.pop()
    with running.engine.busy:  # the worker is busy: the hint job has started but waits for the engine
        worker = threading.Thread(target=job)
        worker.start()
        time.sleep(0.2)  # lets the old code take the ids before the second webhook; the new waits regardless
        assert hint(app, order, "order.updated") == "coalesced"
    worker.join(30)
    assert not worker.is_alive()
    for job, _ in list(queued):
        job()
    assert order_reads(woocommerce) == 1
    assert [entry["external_id"] for entry in orderrepo.orders()] == ["501"]


def test_a_hint_after_the_read_has_begun_reads_again(daemon, woocommerce, orderrepo):
    running, app, queued = daemon
    order = make_order(502, created=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    woocommerce.add_orders([order])
    assert hint(app, order, "order.created") == "hint"
    queued.pop()[0]()
    assert order_reads(woocommerce) == 1
    shipping = {**order["shipping"], "address_1": "House 9, Road 12, Banani"}
    edited = woocommerce.edit_order(502, shipping=shipping, date_modified_gmt=order["date_modified_gmt"])
    assert hint(app, edited, "order.updated") == "hint"  # queued again: the order may have changed since
    queued.pop()[0]()
    assert order_reads(woocommerce) == 2
    assert wait_until(lambda: orderrepo.orders()[0]["update_requests"] == 1, timeout=30)
