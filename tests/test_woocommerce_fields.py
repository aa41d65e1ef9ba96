"""Trimmed order reads (``_fields``): the same payloads as whole reads, one keep-alive connection, the
official client's authentication kept (OAuth 1.0a over http here; Basic over https in
test_woocommerce_tls.py), and whole reads again for a shop that leaves out a field it was asked for."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.core.errors import AuthError, PermanentError, UnmappableOrder
from sync_daemon.core.order import Order
from sync_daemon.engine.mapping import order_modified_key
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators import rest_fields
from sync_daemon.simulators.orders import generate_orders, make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import FIELDS_PARAM, ORDER_FIELDS, WooCommerceSource
from tests.data.bad_orders import CASES

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE = NOW - timedelta(days=30)
STATUSES = ("processing", "on-hold", "completed", "cancelled", "pending", "refunded")
CLICK_META = "_shopback_transaction_id"


def varied_orders() -> list[dict[str, Any]]:
    """Generated orders of every status, some from ShopBack clicks, and the whole bad-input corpus."""
    orders = generate_orders(60, seed=11, start_id=1, now=NOW, span=timedelta(days=5), statuses=STATUSES)
    for order in orders[::3]:
        order["meta_data"].append({"id": 70_000 + order["id"], "key": CLICK_META, "value": f"CLICK{order['id']}X"})
        order["meta_data"].append({"id": 80_000 + order["id"], "key": "_utm_source", "value": "newsletter"})
    return orders + [case.order for case in CASES]


def source_for(shop: WooCommerceSimulator, **settings: Any) -> WooCommerceSource:
    return WooCommerceSource(WooCommerceSettings(
        url=shop.url, consumer_key=shop.consumer_key, consumer_secret=shop.consumer_secret, **settings))


def whole_source_for(shop: WooCommerceSimulator, **settings: Any) -> WooCommerceSource:
    source = source_for(shop, **settings)
    source.trims_fields = False
    return source


def every_platform(shop: WooCommerceSimulator, state) -> Settings:
    """Every registered platform enabled, ShopBack with extra_fields naming order, address and meta fields."""
    return Settings.model_validate({
        "state_dir": str(state),
        "log_level": "error",
        "woocommerce": {"url": shop.url, "consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
        "gotrack": {"enabled": True, "endpoint": "http://127.0.0.1:9/api/v1/orders", "api_key": "fbc_1",
                    "api_secret": "s"},
        "orderrepo": {"enabled": True, "base_url": "http://127.0.0.1:9", "api_key": "k",
                      "origin": "https://shop.example.com", "events": {"created": "evt"}},
        "shopback": {"enabled": True, "offer_id": "1234", "security_token": "a" * 32, "extra_fields": {
            "adv_sub2": "payment_method", "adv_sub3": "coupon_codes", "adv_sub4": "billing.city",
            "adv_sub5": "shipping.company", "adv_unique1": "meta:_utm_source", "adv_unique2": "number"}},
        "tracktor": {"enabled": True, "uuid": "u", "api_key": "k"},
    })


@pytest.fixture
def shop():
    with WooCommerceSimulator() as simulator:
        simulator.add_orders(varied_orders())
        yield simulator


def read_pages(source: WooCommerceSource) -> dict[int, dict[str, Any]]:
    return {raw["id"]: raw for page in source.iter_pages(SINCE) for raw in page if isinstance(raw.get("id"), int)}


def mapped(engine, raw: dict[str, Any]) -> Any:
    return dataclasses.asdict(engine.mapper.map_raw(raw))


def test_trimmed_reads_map_exactly_as_whole_reads_on_every_platform(shop, tmp_path):
    settings = every_platform(shop, tmp_path)
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        trimmed_source, whole_source = source_for(shop, per_page=17), whole_source_for(shop, per_page=17)
        trimmed, whole = read_pages(trimmed_source), read_pages(whole_source)
        assert trimmed.keys() == whole.keys() == set(shop.order_ids())
        assert set(engine.destinations) >= {"gotrack", "orderrepo", "shopback"}
        outcomes = set()
        for order_id, raw in whole.items():
            assert set(trimmed[order_id]) <= set(ORDER_FIELDS) < set(raw)  # trimmed, and nothing needed lost
            assert mapped(engine, trimmed[order_id]) == mapped(engine, raw), order_id
            assert order_modified_key(trimmed[order_id]) == order_modified_key(raw)
            results = mapped(engine, raw)["mapped"]
            outcomes |= {(m["destination"], m["payload"] is not None, m["skipped"]) for m in results}
        # The comparison covered payloads, rejections and skips alike.
        assert {("shopback", True, False), ("shopback", False, True), ("gotrack", True, False)} <= outcomes
        assert any(not payload for name, payload, skipped in outcomes if name == "gotrack")
        ids = sorted(whole)[:100]
        by_ids = {raw["id"]: raw for raw in trimmed_source.get_orders(ids)}
        assert [mapped(engine, by_ids[i]) for i in ids] == [mapped(engine, whole[i]) for i in ids]
        for order_id in ids[:10]:
            assert mapped(engine, trimmed_source.get_order(order_id)) == mapped(engine, whole[order_id])
        assert trimmed_source.trims_fields  # the simulator honours _fields: no reason to stop
    finally:
        engine.close()
        ledger.close()


def test_order_fields_name_every_key_the_order_model_reads():
    """The guard for ORDER_FIELDS: a new key read by Order.from_wc (or the engine) must be asked for."""

    class Recording(dict):
        read: set[str] = set()

        def get(self, key, default=None):
            Recording.read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            Recording.read.add(key)
            return super().__getitem__(key)

    for order in varied_orders():
        raw = Recording(order)
        order_modified_key(raw)
        with contextlib.suppress(UnmappableOrder):  # a bad-input order: the keys read until then count
            Order.from_wc(raw)
    assert Recording.read <= set(ORDER_FIELDS), sorted(Recording.read - set(ORDER_FIELDS))
    assert ",".join(ORDER_FIELDS) == FIELDS_PARAM


def test_the_simulator_trims_answers_as_wordpress_does(shop):
    source = source_for(shop)
    plain = source.transport.send("get", "orders/1", params={"_fields": "id, billing.phone,status,_links"})
    assert plain.json().keys() == {"id", "billing", "status", "_links"}
    assert plain.json()["billing"].keys() == {"phone"}
    parent_wins = source.transport.send("get", "orders", params={"_fields": "billing.city,billing", "per_page": 2})
    assert [order.keys() for order in parent_wins.json()] == [{"billing"}] * 2
    assert len(parent_wins.json()[0]["billing"]) > 2
    blank = source.transport.send("get", "orders/1", params={"_fields": ""})
    assert "_links" in blank.json() and "line_items" in blank.json()
    error = source.transport.send("get", "orders/999999", params={"_fields": "id"})
    assert error.status_code == 404 and error.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_one_connection_serves_every_request_across_polls(shop):
    opened = []
    track = shop._track_connection  # noqa: SLF001 - counting the server's accepted connections

    def counting(connection, *, add):
        if add:
            opened.append(connection)
        track(connection, add=add)

    shop._track_connection = counting
    source = source_for(shop, per_page=50)
    for _ in range(3):  # three polls, each several pages
        assert len(read_pages(source)) == len(shop.order_ids())
    source.get_orders([1, 2, 3])
    source.get_order(4)
    source.update_order(4, {"status": "completed"})
    source.add_note(4, "kept alive")
    shop.add_product(7, image="https://shop.example.com/shirt.png")
    assert source.product_image(7) == "https://shop.example.com/shirt.png"
    with pytest.raises(PermanentError):
        source.product_image(8)  # a 404 answer keeps the connection too
    requests_made = shop.stats()["total"]
    assert requests_made > 10
    assert len(opened) == 1, f"{len(opened)} connections for {requests_made} requests"
    source.close()


def test_oauth_signatures_over_http_are_checked_by_the_shop(shop):
    source = source_for(shop)
    assert source.get_order(1)["id"] == 1  # a signature the simulator verified
    log = shop.request_log()
    assert log[-1]["status"] == 200 and log[-1]["path"].endswith("/orders/1")
    with pytest.raises(AuthError, match="signature"):
        WooCommerceSource(WooCommerceSettings(
            url=shop.url, consumer_key=shop.consumer_key, consumer_secret="cs_" + "0" * 40)).get_order(1)
    url = source.transport.signed_url("GET", "orders", {"per_page": 5, "_fields": FIELDS_PARAM})
    query = url.split("?", 1)[1]
    names = [pair.split("=", 1)[0] for pair in query.split("&")]
    assert len(names) == len(set(names))  # every parameter once
    assert {"oauth_signature", "oauth_nonce", "oauth_timestamp", "oauth_consumer_key"} <= set(names)
    assert requests.get(url, timeout=5).status_code == 200  # signed exactly, query included
    tampered = url.replace("per_page=5", "per_page=6")
    assert requests.get(tampered, timeout=5).status_code == 401


def test_writes_and_the_connection_check_go_through_the_same_session(shop):
    from sync_daemon.source.check import check_woocommerce

    source = source_for(shop)
    source.update_order(1, {"status": "completed", "meta_data": [{"key": "_tracking", "value": "ক১"}]})
    assert shop.get_order(1)["status"] == "completed"
    assert source.add_note(1, "নোট")["note"] == "নোট"
    result = check_woocommerce(WooCommerceSettings(
        url=shop.url, consumer_key=shop.consumer_key, consumer_secret=shop.consumer_secret), needs_write=True)
    assert result.ok and "write" in result.message


def _dropping(field: str):
    """A filter that, like some plugins, leaves a field out of answers trimmed with _fields."""
    honour = rest_fields.filter_response

    def filter_response(request, response):
        response = honour(request, response)
        if rest_fields.requested_fields(request) and response.status < 400:
            items = response.body if isinstance(response.body, list) else [response.body]
            for item in items:
                if isinstance(item, dict):
                    item.pop(field, None)
        return response

    return filter_response


def test_a_shop_that_leaves_out_a_needed_field_is_read_whole_from_then_on(shop, monkeypatch):
    monkeypatch.setattr(rest_fields, "filter_response", _dropping("meta_data"))
    source = source_for(shop, per_page=25)
    first = read_pages(source)
    assert not source.trims_fields
    assert all("meta_data" in raw for raw in first.values())
    before = len(shop.request_log())
    second = read_pages(source)
    assert second.keys() == first.keys()
    later = shop.request_log()[before:]
    assert later and all("_fields" not in str(entry) for entry in later)
    assert "meta_data" in source.get_order(1)


def test_an_order_really_lacking_a_key_does_not_stop_trimming(shop):
    odd = make_order(95_001, created=NOW - timedelta(hours=1))
    del odd["refunds"]  # the shop's data lacks it, whole or trimmed
    shop.add_orders([odd])
    source = source_for(shop)
    raw = source.get_order(95_001)
    assert "refunds" not in raw and "line_items" in raw
    assert source.trims_fields
    assert read_pages(source)[95_001]["id"] == 95_001 and source.trims_fields


def test_a_shop_that_ignores_fields_is_read_once(shop, monkeypatch):
    monkeypatch.setattr(rest_fields, "filter_response", lambda request, response: response)
    source = source_for(shop, per_page=100)
    before = shop.stats()["total"]
    pages = list(source.iter_pages(SINCE))
    assert shop.stats()["total"] - before == len(pages)
    assert source.trims_fields and "_links" in pages[0][0]
