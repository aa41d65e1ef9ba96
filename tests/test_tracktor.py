"""Tracktor: order ids from WooCommerce orders, defensive parsing, the client against the simulator."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RateLimitedError, RetryableError
from sync_daemon.core.order import Order
from sync_daemon.core.outcome import IngestItem
from sync_daemon.ledger import SqliteLedger
from sync_daemon.platforms.tracktor import (
    WEBHOOK_TOPICS,
    Fulfillment,
    OrderTracking,
    TracktorClient,
    TracktorSettings,
    TracktorTracking,
    parse_fulfillment,
    parse_order_tracking,
    parse_status_options,
    tracktor_order_id,
    webhook_order_ids,
)
from sync_daemon.platforms.tracktor.check import check_connection
from sync_daemon.platforms.tracktor.webhook import MAX_IDS
from sync_daemon.simulators import TracktorSimulator

KEY = "trk_live_9f8e7d6c5b4a39281706"
UUID = "6f1c2d3e-aaaa-4bbb-8ccc-0123456789ab"
ORDER_ROUTE = "/apps/tracktor/api/admin/{uuid}/orders/{order_id}.json"


# -- tracktor_order_id --------------------------------------------------------------------


def order_with_meta(data: dict, **meta) -> Order:
    data["meta_data"] = [{"id": i, "key": key, "value": value} for i, (key, value) in enumerate(meta.items())]
    return Order.from_wc(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5012345678", "5012345678"),
        ("  5012345678 \n", "5012345678"),
        (5012345678, "5012345678"),
        ("ord-12_AB", "ord-12_AB"),
        ("", None),
        ("   ", None),
        (None, None),
        ("#1001", None),
        ("12/34", None),
        ("12 34", None),
        ("../../webhooks", None),
        ("1001?x=1", None),
        ("x" * 65, None),
        (True, None),
        (12.5, None),
        (["5012"], None),
        ({"id": "5012"}, None),
    ],
)
def test_tracktor_order_id_from_meta(wc_order, value, expected):
    settings = TracktorSettings()
    assert tracktor_order_id(order_with_meta(wc_order, _tracktor_order_id=value), settings) == expected


def test_tracktor_order_id_absent_meta_custom_key_and_order_id_mode(wc_order):
    order = order_with_meta(wc_order, _other="5012", shipment_ref=" 77 ")
    assert tracktor_order_id(order, TracktorSettings()) is None
    assert tracktor_order_id(order, TracktorSettings(order_id_meta_key=" shipment_ref ")) == "77"
    assert tracktor_order_id(order, TracktorSettings(order_id_source="order_id")) == "727"


def test_settings_problems_name_the_field_never_the_key():
    assert TracktorSettings().problems() == []  # disabled: nothing to say
    settings = TracktorSettings(enabled=True, uuid="not a uuid!", api_key="has a space 12345")
    problems = settings.problems()
    assert any(p.startswith("tracktor.uuid:") for p in problems)
    assert any(p.startswith("tracktor.api_key:") for p in problems)
    assert not any("has a space" in p for p in problems)
    assert len(TracktorSettings(enabled=True).problems()) == 2
    assert TracktorSettings(enabled=True, uuid=UUID, api_key=KEY).problems() == []
    with pytest.raises(ValueError, match="meta key"):
        TracktorSettings(order_id_meta_key="  ")


# -- parsing ------------------------------------------------------------------------------

FULFILLMENT = {
    "shop_url": "example.myshopify.com",
    "order_id": 5012345678,
    "order_name": "#1001",
    "shopify_carrier": "DHL",
    "carrier": {"slug": "dhl-express", "name": "DHL Express"},
    "tracking_number": "JD014600003828",
    "fulfillment_id": 4400112233,
    "fulfillment_status": "fulfilled",
    "shipment_status": "in_transit",
    "exception_status": None,
    "is_automatic": True,
}


def test_fulfillment_parses_enveloped_and_bare():
    expected = Fulfillment(
        "4400112233", "in_transit", None, "DHL Express", "dhl-express", "JD014600003828", "fulfilled"
    )
    assert parse_fulfillment(FULFILLMENT) == expected
    assert parse_fulfillment({"fulfillment": FULFILLMENT}) == expected


def test_fulfillment_missing_and_odd_fields_become_none():
    assert parse_fulfillment({}) == Fulfillment("", None, None, None, None, None, None)
    odd = parse_fulfillment(
        {"id": 7, "carrier": "Pathao", "shipment_status": "  ", "exception_status": 3, "tracking_number": ["x"]}
    )
    assert odd == Fulfillment("7", None, "3", "Pathao", None, None, None)
    # No carrier object: the Shopify carrier name stands in.
    assert parse_fulfillment({"shopify_carrier": "RedX", "carrier": None}).carrier_name == "RedX"
    assert parse_fulfillment([FULFILLMENT]) is None
    assert parse_fulfillment(None) is None


def test_order_parses_enveloped_and_bare():
    order = {
        "order_id": 5012345678,
        "order_name": "#1001",
        "statuses": ["in_transit", "delivered"],
        "exception_statuses": ["exception"],
        "fulfillments": [FULFILLMENT, {**FULFILLMENT, "fulfillment_id": 2, "shipment_status": "delivered"}],
    }
    for body in (order, {"order": order}):
        parsed = parse_order_tracking(body, "ignored")
        assert parsed.order_id == "5012345678"
        assert parsed.statuses == ("in_transit", "delivered")
        assert parsed.exception_statuses == ("exception",)
        assert [f.fulfillment_id for f in parsed.fulfillments] == ["4400112233", "2"]


def test_order_missing_fields_are_empty_and_statuses_derive_from_fulfillments():
    assert parse_order_tracking({}, "77") == OrderTracking("77", (), (), ())
    assert parse_order_tracking({"order": {"statuses": "delivered", "fulfillments": "x"}}, "77") == OrderTracking(
        "77", (), (), ()
    )
    derived = parse_order_tracking(
        {"fulfillments": [FULFILLMENT, {"fulfillment_id": 3, "exception_status": "not_found"}, "junk"]}, "9"
    )
    assert derived.statuses == ("in_transit",)
    assert derived.exception_statuses == ("not_found",)
    assert len(derived.fulfillments) == 2
    assert parse_order_tracking(["not", "an", "object"]) is None


def test_status_options_accept_objects_strings_and_envelopes():
    objects = [{"slug": "in_transit", "name": "In transit"}, {"slug": "ready_for_pickup", "is_custom": True}]
    assert parse_status_options({"status_options": objects}) == [
        {"slug": "in_transit", "name": "In transit"},
        {"slug": "ready_for_pickup", "name": "ready_for_pickup", "is_custom": True},
    ]
    assert parse_status_options(["order_ready", " ", 5, {"name": "no slug"}]) == [
        {"slug": "order_ready", "name": "order_ready"}
    ]
    assert parse_status_options({"statuses": ["delivered"]}) == [{"slug": "delivered", "name": "delivered"}]
    assert parse_status_options({"unexpected": True}) == []


# -- the client against the simulator -------------------------------------------------------


@pytest.fixture
def sim():
    with TracktorSimulator(uuid=UUID, api_key=KEY) as simulator:
        yield simulator


def settings_for(sim, **overrides) -> TracktorSettings:
    values = {"enabled": True, "base_url": sim.base_url, "uuid": sim.uuid, "api_key": sim.api_key, "timeout_seconds": 3}
    return TracktorSettings(**(values | overrides))


@pytest.fixture
def client(sim):
    with TracktorClient(settings_for(sim)) as tracktor:
        yield tracktor


def test_status_options_include_the_custom_one(client, sim):
    options = client.status_options()
    slugs = [o["slug"] for o in options]
    assert slugs == ["order_ready", "in_transit", "out_for_delivery", "delivered", "ready_for_pickup"]
    assert options[-1]["is_custom"] is True and options[0]["name"] == "Order ready"
    request = sim.request_log()[-1]
    assert request["path"] == f"/apps/tracktor/api/admin/{UUID}/status-options.json" and request["status"] == 200


def test_order_tracked_from_ready_to_delivered(client, sim):
    sim.add_order(5012345678, [{"carrier": "DHL Express", "tracking_number": "JD014600003828"}])
    tracking = client.order_tracking("5012345678")
    assert tracking.order_id == "5012345678" and tracking.statuses == ("order_ready",)
    (fulfillment,) = tracking.fulfillments
    assert (fulfillment.carrier_name, fulfillment.carrier_slug) == ("DHL Express", "dhl-express")
    assert fulfillment.tracking_number == "JD014600003828" and fulfillment.fulfillment_status == "fulfilled"
    sim.advance(5012345678, "in_transit")
    assert client.order_tracking("5012345678").statuses == ("in_transit",)
    sim.advance(5012345678, "delivered")
    tracking = client.order_tracking("5012345678")
    assert tracking.statuses == ("delivered",) and tracking.exception_statuses == ()
    assert tracking.fulfillments[0].shipment_status == "delivered"
    assert sim.order(5012345678)["days_since_ordered"] == 0
    assert client.fulfillment(fulfillment.fulfillment_id) == tracking.fulfillments[0]


def test_exception_status_one_item_per_fulfillment_with_an_exception(client, sim):
    sim.add_order(
        "A-77",
        [
            {"carrier": {"slug": "pathao", "name": "Pathao"}, "tracking_number": "P1", "shipment_status": "in_transit"},
            {"carrier": "RedX", "tracking_number": "R2"},
        ],
    )
    sim.set_exception("A-77", "undelivered", fulfillment_index=1)
    tracking = client.order_tracking("A-77")
    assert tracking.order_id == "A-77"
    assert tracking.statuses == ("in_transit", "order_ready")
    assert tracking.exception_statuses == ("undelivered",)
    assert [f.exception_status for f in tracking.fulfillments] == [None, "undelivered"]
    sim.advance("A-77", "out_for_delivery", fulfillment_index=1)  # a carrier update clears the exception
    assert client.order_tracking("A-77").exception_statuses == ()


def test_unknown_order_or_fulfillment_is_none_and_a_wrong_uuid_is_configuration(client, sim):
    assert client.order_tracking("999") is None
    assert client.fulfillment("123") is None
    with TracktorClient(settings_for(sim, uuid="0000-wrong")) as wrong:
        with pytest.raises(ConfigurationError, match="tracktor.uuid"):
            wrong.order_tracking("999")
        with pytest.raises(ConfigurationError, match="tracktor.uuid"):
            wrong.status_options()
    with pytest.raises(PermanentError):
        client.order_tracking("../webhooks")
    assert sim.count("GET", "/apps/tracktor/api/admin/{uuid}/webhooks.json") == 0


def test_bad_key_is_auth_error_without_any_key_in_the_message(sim):
    wrong_key = "trk_live_WRONG000000000000"
    with TracktorClient(settings_for(sim, api_key=wrong_key)) as wrong:
        with pytest.raises(AuthError) as caught:
            wrong.order_tracking("1")
        check = check_connection(wrong)
    message = str(caught.value)
    assert "x-api-key" in message and "tracktor.uuid" in message and caught.value.http_status == 401
    assert wrong_key not in message and KEY not in message
    assert not check.ok and wrong_key not in check.message + check.hint


def test_key_is_checked_before_the_uuid(sim):
    response = requests.get(f"{sim.base_url}/nope/status-options.json", headers={"x-api-key": "x"}, timeout=5)
    assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    response = requests.get(f"{sim.base_url}/nope/status-options.json", headers={"x-api-key": KEY}, timeout=5)
    assert response.status_code == 404 and response.json() == {"error": "Shop not found"}


def test_invalid_topic_or_address_is_refused_before_any_request(client, sim):
    assert len(WEBHOOK_TOPICS) == 10
    with pytest.raises(ConfigurationError, match="not a webhook topic"):
        client.create_webhook("order/shipped", "https://shop.example.com/hook")
    with pytest.raises(ConfigurationError, match="https"):
        client.create_webhook("order/all", "http://shop.example.com/hook")
    with pytest.raises(ConfigurationError, match="https"):
        client.create_webhook("order/all", "shop.example.com/hook")
    assert sim.stats()["total"] == 0 and sim.webhook_calls() == []


def test_webhook_create_list_delete_round_trip(client, sim):
    created = client.create_webhook("fulfillment/delivered", " https://shop.example.com/tracktor-hook ")
    assert created["topic"] == "fulfillment/delivered" and created["address"] == "https://shop.example.com/tracktor-hook"
    client.create_webhook("order/all", "https://shop.example.com/all")
    listed = client.webhooks()
    assert [w["id"] for w in listed] == [created["id"], created["id"] + 1]
    with pytest.raises(PermanentError, match="already been taken"):
        client.create_webhook("order/all", "https://shop.example.com/all")
    client.delete_webhook(str(created["id"]))
    assert [w["topic"] for w in client.webhooks()] == ["order/all"]
    with pytest.raises(PermanentError, match="no webhook"):
        client.delete_webhook(str(created["id"]))
    with pytest.raises(PermanentError, match="not a webhook id"):
        client.delete_webhook("1/../2")
    calls = sim.webhook_calls()
    assert [(c["action"], c["accepted"]) for c in calls] == [
        ("create", True),
        ("create", True),
        ("create", False),
        ("delete", True),
        ("delete", False),
    ]


def test_manual_status_is_validated_against_the_status_options(client, sim):
    sim.add_order(1001, [{"carrier": "DHL", "tracking_number": "T1"}, {"carrier": "DHL", "tracking_number": "T2"}])
    sim.set_exception(1001, "pending")
    order = client.update_order_status("1001", "ready_for_pickup")
    assert order["statuses"] == ["ready_for_pickup", "ready_for_pickup"] and order["automatic_carrier_updates"] is False
    assert all(f["is_automatic"] is False for f in order["fulfillments"])
    tracking = client.order_tracking("1001")
    assert tracking.statuses == ("ready_for_pickup", "ready_for_pickup") and tracking.exception_statuses == ()
    with pytest.raises(PermanentError, match="not a status option"):
        client.update_order_status("1001", "lost_in_space")
    with pytest.raises(PermanentError, match="does not know order"):
        client.update_order_status("4040", "delivered")
    with pytest.raises(PermanentError):
        client.update_order_status("1001", "  ")
    updates = sim.manual_updates()
    assert [(u["order_id"], u["status"], u["accepted"]) for u in updates] == [
        ("1001", "ready_for_pickup", True),
        ("1001", "lost_in_space", False),
        ("4040", "delivered", False),
    ]
    assert updates[0]["body"] == {"status": "ready_for_pickup"}


def test_transient_answers_are_retryable(client, sim):
    sim.add_fault("html", count=1)
    with pytest.raises(RetryableError, match="HTML"):
        client.status_options()
    sim.add_fault("status", status=503, count=1)
    with pytest.raises(RetryableError) as caught:
        client.order_tracking("1")
    assert caught.value.http_status == 503
    sim.add_fault("rate_limit", retry_after=7, count=1)
    with pytest.raises(RateLimitedError) as limited:
        client.webhooks()
    assert limited.value.retry_after == 7
    sim.add_fault("reset", count=1)
    with pytest.raises(RetryableError, match="reset|closed"):
        client.status_options()
    assert client.status_options()  # and back to normal


def test_check_connection(client, sim):
    result = check_connection(client)
    assert result.name == "tracktor" and result.ok
    assert "ready_for_pickup" in result.message and result.details["status_options"][0] == "order_ready"
    incomplete = TracktorClient(settings_for(sim, uuid=""))
    before = sim.stats()["total"]
    result = check_connection(incomplete)
    assert not result.ok and "tracktor.uuid" in result.message and sim.stats()["total"] == before
    with pytest.raises(ConfigurationError, match="tracktor.uuid"):
        incomplete.order_tracking("1")
    incomplete.close()


def test_simulator_admin_http_routes(sim):
    admin = sim.url + "/__admin__"
    body = {"order_id": "55", "fulfillments": [{"carrier": "DHL", "tracking_number": "Z"}]}
    created = requests.post(f"{admin}/orders", json=body, timeout=5)
    assert created.status_code == 201 and created.json()["order"]["order_id"] == 55
    moved = requests.post(f"{admin}/orders/55/advance", json={"status": "out_for_delivery"}, timeout=5)
    assert moved.json()["order"]["statuses"] == ["out_for_delivery"]
    flagged = requests.post(f"{admin}/orders/55/exception", json={"exception_status": "expired"}, timeout=5)
    assert flagged.json()["order"]["exception_statuses"] == ["expired"]
    assert requests.post(f"{admin}/orders/55/advance", json={"status": "nope"}, timeout=5).status_code == 400
    assert requests.post(f"{admin}/orders/56/advance", json={"status": "delivered"}, timeout=5).status_code == 404
    body = {"exception_status": None, "fulfillment_index": 3}
    index = requests.post(f"{admin}/orders/55/exception", json=body, timeout=5)
    assert index.status_code == 400
    assert requests.get(f"{admin}/orders", timeout=5).json()["orders"][0]["order_id"] == 55
    assert requests.get(f"{admin}/webhooks", timeout=5).json() == {"webhooks": [], "calls": []}
    assert requests.get(f"{admin}/manual-updates", timeout=5).json() == {"manual_updates": []}
    with pytest.raises(ValueError, match="already exists"):
        sim.add_order(55)
    with pytest.raises(ValueError):
        sim.add_order("#1001")
    assert sim.stats()["total"] == 0  # admin calls are not API traffic


def _response(status: int, body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers["Content-Type"] = content_type
    return response


def test_only_a_json_404_naming_the_shop_means_a_wrong_uuid():
    from sync_daemon.platforms.tracktor.client import _unknown_shop

    assert _unknown_shop(_response(404, b'{"error": "Shop not found"}', "application/json"))
    assert _unknown_shop(_response(404, b'{"message": "Invalid uuid"}', "application/json"))
    assert not _unknown_shop(_response(404, b'{"error": "Order not found"}', "application/json"))
    page = b"<!DOCTYPE html><html><title>ShopPad - page not found</title><p>Visit our shop</p></html>"
    assert not _unknown_shop(_response(404, page, "text/html"))


def test_a_plain_404_on_an_order_is_none_elsewhere_configuration(client, sim):
    sim.add_fault("status", status=404, count=2)
    assert client.order_tracking("1") is None
    with pytest.raises(ConfigurationError, match="is tracktor.uuid right"):
        client.webhooks()


# -- what a webhook names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"order_id": 5012345678}', ("5012345678",)),
        (b'{"order_id": " ord-12_AB "}', ("ord-12_AB",)),
        (b'{"id": 5012345678, "order_name": "#1001", "statuses": ["delivered"]}', ("5012345678",)),
        (b'{"order": {"id": 77, "fulfillments": [{"id": 4400112233, "shipment_status": "delivered"}]}}', ("77",)),
        (b'{"order": 77}', ("77",)),
        (b'{"fulfillment": {"id": 4400112233, "order_id": 5012345678, "shipment_status": "delivered"}}',
         ("5012345678",)),
        (b'{"id": 9001, "topic": "order/delivered", "data": {"order_id": 12}}', ("12",)),  # 9001: the event's
        (b'{"payload": {"order": {"order_id": "12"}}}', ("12",)),
        (b'{"orders": [{"order_id": 1}, {"id": 2}, {"order_id": 1}]}', ("1", "2")),
        (b'[{"order_id": 3}, {"fulfillment": {"order_id": 4}}]', ("3", "4")),
    ],
)
def test_a_webhook_names_the_orders_to_read_again(body, expected):
    assert webhook_order_ids(body) == expected


def test_a_status_in_the_body_is_never_read():
    told = b'{"order_id": 12, "shipment_status": "delivered", "statuses": ["delivered"], "status": "delivered"}'
    assert webhook_order_ids(told) == ("12",)  # only which order: its status comes from the API


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe garbage",
        b"null",
        b"42",
        b'"5012345678"',
        b"[]",
        b"{}",
        b"[" * 100_000,  # nested past the parser's recursion limit
        b'{"order_id": null}',
        b'{"order_id": true}',
        b'{"order_id": 5012345678.0}',
        b'{"order_id": "#1001"}',
        b'{"order_id": "../../webhooks"}',
        b'{"order_id": {"id": 3}}',
        b'{"order_id": "' + b"x" * 65 + b'"}',
    ],
)
def test_garbage_names_nothing(body):
    assert webhook_order_ids(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 4400112233, "shipment_status": "in_transit", "tracking_number": "JD1"}',  # a fulfillment's id
        b'{"topic": "fulfillment/delivered", "id": 4400112233}',
        b'{"fulfillment": {"id": 4400112233}}',
        b'{"fulfillment": 4400112233}',
        b'{"id": 9001, "topic": "order/all", "data": {"shop_url": "example.myshopify.com"}}',
        b'{"webhook": {"id": 9001, "topic": "order/all"}}',
        b'{"event": "ping"}',
    ],
)
def test_unknown_shapes_and_fulfillment_ids_name_no_order(body):
    assert webhook_order_ids(body) is None


def test_a_body_names_at_most_a_hundred_orders():
    body = json.dumps({"orders": [{"order_id": n} for n in range(500)]}).encode()
    assert webhook_order_ids(body) == tuple(str(n) for n in range(MAX_IDS))


# -- the targeted pull ----------------------------------------------------------------------


@pytest.fixture
def tracked(tmp_path, sim):
    """A ledger following orders 1..4 (Tracktor ids 501..504), all known to the simulator."""
    ledger = SqliteLedger.open(tmp_path)
    now = time.time()
    ledger.ingest([IngestItem(n, str(n), "m", "processing", [], tracking_id=str(500 + n)) for n in (1, 2, 3, 4)],
                  now=now)
    for n in (1, 2, 3, 4):
        sim.add_order(500 + n, [{"carrier": "Pathao", "tracking_number": f"PX{n}", "shipment_status": "in_transit"}])
    source = TracktorTracking(settings_for(sim))
    yield ledger, source, now
    source.close()
    ledger.close()


def order_reads(sim):
    return [entry["path"].rsplit("/", 1)[-1] for entry in sim.request_log() if entry["method"] == "GET"]


def test_a_targeted_pull_asks_tracktor_about_the_named_order_only(tracked, sim):
    ledger, source, now = tracked
    sim.advance(503, "delivered")
    changed = source.pull(ledger, now=now, stop=threading.Event(), progress=lambda: None, only=["503"])
    assert changed == 1
    assert order_reads(sim) == ["503.json"] and sim.count("GET", ORDER_ROUTE) == 1
    assert ledger.tracking_due(now=now, max_age_seconds=86400) == [(1, "501"), (2, "502"), (4, "504")]  # 3 is done


def test_a_targeted_pull_reads_nothing_for_orders_it_does_not_follow(tracked, sim):
    ledger, source, now = tracked
    assert source.pull(ledger, now=now, stop=threading.Event(), progress=lambda: None, only=["999", "x"]) == 0
    assert sim.stats()["total"] == 0


def test_without_only_every_due_order_is_read(tracked, sim):
    ledger, source, now = tracked
    source.pull(ledger, now=now, stop=threading.Event(), progress=lambda: None)
    assert sorted(order_reads(sim)) == ["501.json", "502.json", "503.json", "504.json"]


def test_the_simulator_takes_the_one_key_on_webhook_routes_and_nothing_else(sim):
    """The contract documents one x-api-key per shop and no permissions: the webhook routes check the
    key like every route (401 without it or with another), and the shop's key may manage webhooks."""
    webhooks = f"{sim.base_url}/{UUID}/webhooks.json"
    one = f"{sim.base_url}/{UUID}/webhooks/9001.json"
    body = {"webhook": {"topic": "order/all", "address": "https://shop.example.com/hook"}}
    for headers in ({}, {"x-api-key": "trk_read_only_0123456789"}, {"x-api-key": KEY.upper()}):
        assert requests.get(webhooks, headers=headers, timeout=5).status_code == 401
        assert requests.post(webhooks, json=body, headers=headers, timeout=5).status_code == 401
        assert requests.delete(one, headers=headers, timeout=5).status_code == 401
    assert sim.webhooks() == [] and sim.webhook_calls() == []  # refused before anything was recorded
    created = requests.post(webhooks, json=body, headers={"x-api-key": KEY}, timeout=5)
    assert created.status_code == 200
    gone = requests.delete(f"{sim.base_url}/{UUID}/webhooks/{created.json()['webhook']['id']}.json",
                           headers={"x-api-key": KEY}, timeout=5)
    assert gone.status_code == 200 and sim.webhooks() == []
