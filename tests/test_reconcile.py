"""Reading orders again on purpose (webhook hints, the reconcile sweep): silent edits reach OrderRepo once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.engine.reconcile import reread_orders, sweep
from sync_daemon.ledger import SqliteLedger
from sync_daemon.ledger.open_orders import open_order_ids
from sync_daemon.simulators.orders import make_order

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


ORIGIN = "https://shop.example.com"
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def setup(woocommerce, orderrepo, tmp_path):
    data = {
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret, "overlap_seconds": 5},
        "delivery": {"retry_schedule_seconds": [60], "retry_jitter": 0},
        "orderrepo": {"enabled": True, "base_url": orderrepo.url, "api_key": orderrepo.api_key,
                      "origin": ORIGIN, "fallback_image_url": f"{ORIGIN}/placeholder.png",
                      "data_fields": ["delivery_address"]},
    }
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(Settings.model_validate(data), ledger, threading.Event())
    engine.startup()
    yield engine, ledger
    engine.close()
    ledger.close()


def silent_address_edit(woocommerce, order_id: int) -> None:
    """Change only the shipping address, keeping date_modified (as a REST PUT does in real WooCommerce)."""
    order = woocommerce.get_order(order_id)
    shipping = {**order["shipping"], "address_1": "House 9, Road 12, Banani"}
    woocommerce.edit_order(order_id, shipping=shipping, date_modified_gmt=order["date_modified_gmt"])


def test_a_silent_edit_is_missed_by_polling_and_caught_by_a_hint(setup, woocommerce, orderrepo):
    engine, _ = setup
    woocommerce.add_orders([make_order(41, created=CREATED), make_order(42, created=CREATED)])
    assert engine.sync_pass().delivered == 2
    silent_address_edit(woocommerce, 41)
    assert engine.sync_pass().delivered == 0  # date_modified did not move: polling cannot see it
    result = reread_orders(engine, [41, 41], reason="webhook")
    assert (result.requests, result.found, result.summary.changed, result.summary.delivered) == (1, 1, 1, 1)
    stored = {order["external_id"]: order for order in orderrepo.orders()}
    assert stored["41"]["update_requests"] == 1 and stored["42"]["update_requests"] == 0
    again = reread_orders(engine, [41], reason="webhook")  # a replayed hint: read, nothing sent
    assert again.summary.delivered == 0
    assert stored["41"]["update_requests"] == 1


def test_a_hint_for_a_new_order_delivers_it_without_moving_the_cursor(setup, woocommerce, orderrepo, tmp_path):
    engine, ledger = setup
    woocommerce.add_orders([make_order(50, created=CREATED)])
    engine.sync_pass()
    cursor = ledger.get_cursor()
    woocommerce.add_orders([make_order(51, created=datetime.now(UTC).replace(microsecond=0))])
    result = reread_orders(engine, [51, 999], reason="webhook")  # 999 does not exist: left out
    assert (result.found, result.summary.new, result.summary.delivered) == (1, 1, 1)
    assert ledger.get_cursor() == cursor
    assert engine.sync_pass().delivered == 0  # the poll reads 51 again: nothing new


def test_the_sweep_rereads_open_orders_only_and_finds_silent_edits(setup, woocommerce, orderrepo):
    engine, ledger = setup
    woocommerce.add_orders([make_order(60 + index, created=CREATED) for index in range(3)])
    engine.sync_pass()
    later = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    woocommerce.edit_order(62, status="completed", date_modified_gmt=later)
    engine.sync_pass()
    assert open_order_ids(ledger, since=0) == [60, 61]
    silent_address_edit(woocommerce, 61)
    result = sweep(engine)
    assert (result.asked, result.summary.changed, result.summary.delivered) == (2, 1, 1)
    stored = {order["external_id"]: order for order in orderrepo.orders()}
    assert stored["61"]["update_requests"] == 1
    assert sweep(engine).summary.delivered == 0


def test_a_failing_shop_during_a_reread_loses_nothing(setup, woocommerce):
    engine, _ = setup
    woocommerce.add_orders([make_order(70, created=CREATED)])
    engine.sync_pass()
    woocommerce.update_settings(rest_disabled=True)
    result = reread_orders(engine, [70], reason="webhook")
    assert result.error and result.summary.delivered == 0
