"""Which orders a pass takes part in: synced statuses for new orders, any status for known ones,
and a platform enabled on an existing ledger catching up. In-process simulators, real SQLite."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import make_order

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


ORIGIN = "https://shop.example.com"  # the Origin the orderrepo fixture allows (tests/conftest.py)
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def sims(woocommerce, gotrack, orderrepo):
    """The shared simulators (tests/conftest.py): the shop, GoTrack and OrderRepo."""
    return woocommerce, gotrack, orderrepo


def engine_for(sims, state, *platforms):
    woocommerce, gotrack, orderrepo = sims
    data = {
        "state_dir": str(state),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret, "overlap_seconds": 5},
        "delivery": {"retry_schedule_seconds": [60], "retry_jitter": 0},
        "gotrack": {"enabled": "gotrack" in platforms, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret},
        "orderrepo": {"enabled": "orderrepo" in platforms, "base_url": orderrepo.url, "api_key": orderrepo.api_key,
                      "origin": ORIGIN, "fallback_image_url": f"{ORIGIN}/placeholder.png"},
    }
    ledger = SqliteLedger.open(state)
    engine = build_engine(Settings.model_validate(data), ledger, threading.Event())
    engine.startup()
    return engine, ledger


def close(engine, ledger):
    engine.close()
    ledger.close()


def test_new_orders_in_other_statuses_stay_out_and_known_ones_are_followed(sims, tmp_path):
    woocommerce, _, orderrepo = sims
    woocommerce.add_orders([
        make_order(1, created=CREATED, status="processing"),
        make_order(2, created=CREATED, status="completed"),  # finished before the daemon came
        make_order(3, created=CREATED, status="pending"),  # not paid yet
    ])
    engine, ledger = engine_for(sims, tmp_path, "orderrepo")
    try:
        first = engine.sync_pass()
        assert (first.delivered, first.other_status) == (1, 2)
        assert [stored["external_id"] for stored in orderrepo.orders()] == ["1"]
        assert ledger.delivery(2, "orderrepo") is None and ledger.delivery(3, "orderrepo") is None

        # Staff cancel order 1: no longer in a synced status, but OrderRepo has it, so it hears of it.
        later = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
        woocommerce.edit_order(1, status="cancelled", date_modified_gmt=later)
        second = engine.sync_pass()
        assert second.delivered == 1
        (stored,) = orderrepo.orders()
        assert stored["update_requests"] == 1
        assert {"name": "WooCommerce status", "value": "cancelled"} in stored["payload"]["data"]
    finally:
        close(engine, ledger)


def test_a_platform_enabled_later_gets_the_orders_of_its_window_once(sims, tmp_path):
    woocommerce, gotrack, orderrepo = sims
    woocommerce.add_orders([make_order(10 + index, created=CREATED + timedelta(minutes=index)) for index in range(3)])
    engine, ledger = engine_for(sims, tmp_path, "gotrack")
    try:
        engine.sync_pass()
        engine.sync_pass()  # the cursor is past the orders now: a plain re-read would not see them
    finally:
        close(engine, ledger)
    assert len(gotrack.orders()) == 3

    engine, ledger = engine_for(sims, tmp_path, "gotrack", "orderrepo")  # connect orderrepo, restart
    try:
        summary = engine.sync_pass()
        assert summary.delivered == 3
        assert sorted(stored["external_id"] for stored in orderrepo.orders()) == ["10", "11", "12"]
        again = engine.sync_pass()
        assert (again.delivered, again.new) == (0, 0)
    finally:
        close(engine, ledger)
    # GoTrack was not asked again: the orders it has were recorded as unchanged.
    assert gotrack.requests_by_external_id() == {f"woocommerce:{order_id}": 1 for order_id in (10, 11, 12)}


def test_saves_that_change_no_synced_field_send_nothing(sims, tmp_path):
    """Under HPOS every save bumps date_modified (a no-op PUT, {}, a plugin's meta): the poll reads the
    order again with a new date_modified, the payload is unchanged, so no platform hears of it (issue 27.3)."""
    woocommerce, gotrack, orderrepo = sims
    woocommerce.add_orders([make_order(30, created=CREATED, status="processing")])
    engine, ledger = engine_for(sims, tmp_path, "gotrack", "orderrepo")
    try:
        assert engine.sync_pass().delivered == 2
        sent = gotrack.stats()["total"], orderrepo.stats()["total"]
        before = woocommerce.get_order(30)["date_modified_gmt"]
        engine.source.update_order(30, {})
        engine.source.update_order(30, {"status": "processing"})
        engine.source.update_order(30, {"meta_data": [{"key": "_plugin_flag", "value": "1"}]})
        bumped = woocommerce.get_order(30)["date_modified_gmt"] != before
        assert bumped == (woocommerce.storage == "hpos")
        summary = engine.sync_pass()
        assert summary.unchanged and (summary.delivered, summary.changed, summary.new) == (0, 0, 0)
        assert (gotrack.stats()["total"], orderrepo.stats()["total"]) == sent
    finally:
        close(engine, ledger)
