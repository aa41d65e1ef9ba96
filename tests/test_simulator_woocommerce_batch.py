"""The WooCommerce simulator's orders/batch, as ``WC_REST_Controller::batch_items`` answers it."""

from __future__ import annotations

import pytest
import requests

from sync_daemon.simulators.orders import make_order
from tests.test_woocommerce_source import source_for


@pytest.fixture
def shop(woocommerce):
    source = source_for(woocommerce)
    yield source
    source.close()


def test_each_update_goes_through_the_put_and_a_failed_one_does_not_stop_the_others(woocommerce, shop):
    woocommerce.add_orders([make_order(1), make_order(3)])
    answers = shop.update_orders_batch([
        {"id": 1, "meta_data": [{"key": "sync_daemon_gotrack", "value": "GoTrack #305"}]},
        {"id": 2, "meta_data": [{"key": "sync_daemon_gotrack", "value": "GoTrack #306"}]},
        {"id": 3, "status": "completed"},
    ])
    assert answers[0]["id"] == 1 and {"key": "sync_daemon_gotrack", "value": "GoTrack #305"}.items() <= next(
        entry for entry in answers[0]["meta_data"] if entry["key"] == "sync_daemon_gotrack").items()
    assert answers[1] == {"id": 2, "error": {"code": "woocommerce_rest_shop_order_invalid_id",
                                             "message": "Invalid ID.", "data": {"status": 400}}}
    assert answers[2]["status"] == "completed"
    kinds = [write["kind"] for write in woocommerce.writes()]
    assert kinds == ["meta", "status", "batch"]  # the items' own writes, as a PUT records them, then the batch


def test_a_key_written_again_without_an_id_replaces_its_value_and_drops_duplicates(woocommerce, shop):
    order = make_order(1)
    order["meta_data"] += [{"id": 7, "key": "sync_daemon_gotrack", "value": "a"},
                           {"id": 8, "key": "sync_daemon_gotrack", "value": "b"}]
    woocommerce.add_orders([order])
    for value in ("GoTrack #305", "GoTrack #305"):
        shop.update_orders_batch([{"id": 1, "meta_data": [{"key": "sync_daemon_gotrack", "value": value}]}])
    meta = [entry for entry in woocommerce.get_order(1)["meta_data"] if entry["key"] == "sync_daemon_gotrack"]
    assert meta == [{"id": 7, "key": "sync_daemon_gotrack", "value": "GoTrack #305"}]


def test_more_than_100_items_is_refused_whole(woocommerce, shop):
    woocommerce.add_orders([make_order(1)])
    with pytest.raises(ValueError, match="at most 100"):
        shop.update_orders_batch([{"id": 1}] * 101)
    signed = shop.transport.send("post", "orders/batch", data={"update": [{"id": 1}] * 101})
    assert (signed.status_code, signed.json()["code"]) == (413, "woocommerce_rest_request_entity_too_large")
    assert woocommerce.writes() == []


def test_an_anonymous_batch_is_refused(woocommerce):
    woocommerce.add_orders([make_order(1)])
    answer = requests.post(f"{woocommerce.url}/wp-json/wc/v3/orders/batch", json={"update": [{"id": 1}]}, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (401, "woocommerce_rest_cannot_batch")
