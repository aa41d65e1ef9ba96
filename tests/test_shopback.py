"""ShopBack: mapping (pure), settings validation, answer parsing, and the connector against the simulator."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import requests
import structlog

from sync_daemon.app import build_engine
from sync_daemon.config import Settings, load_settings
from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    NotApplicable,
    PermanentError,
    RetryableError,
    SyncError,
    UnmappableOrder,
)
from sync_daemon.core.order import Order
from sync_daemon.ledger import SqliteLedger
from sync_daemon.platforms import REGISTRY
from sync_daemon.platforms.shopback import (
    ShopBackDestination,
    ShopBackSettings,
    format_amount,
    map_order,
    parse_answer,
    query_string,
)
from sync_daemon.platforms.shopback.check import check_connection
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.shopback import ShopBackSimulator

TOKEN = "070a632e2b574ca894d90610c7da97bc"
CLICK = "102b983f153f632c9a0a1469e27b55"  # the stored order's meta value (the contract's example)
META_KEY = "_shopback_transaction_id"


def settings(**overrides) -> ShopBackSettings:
    values = {"enabled": True, "offer_id": "1234", "security_token": TOKEN, **overrides}
    return ShopBackSettings(**values)


def with_meta(wc_order: dict, value) -> Order:
    wc_order["meta_data"] = [m for m in wc_order["meta_data"] if m["key"] != META_KEY]
    if value is not ...:
        wc_order["meta_data"].append({"id": 1, "key": META_KEY, "value": value})
    return Order.from_wc(wc_order)


# -- mapping ------------------------------------------------------------------------------------


def test_payload_has_the_documented_parameters_and_never_the_token(wc_order):
    result = map_order(Order.from_wc(wc_order), settings())
    assert result.payload == {
        "offer_id": "1234",
        "adv_sub": "727",
        "transaction_id": CLICK,
        "amount": "945.00",
    }
    assert result.note is None
    assert TOKEN not in repr(result)


@pytest.mark.parametrize(
    ("basis", "expected"),
    [
        # total 1053.00 = items 900.00 (after the coupon) + item tax 45.00 + fees 45.00 + shipping 60.00 + its tax 3.00
        ("total", "1053.00"),
        ("total_excl_shipping", "990.00"),  # 1053 − (60 + 3)
        ("total_excl_shipping_and_tax", "945.00"),  # 1053 − 60 − 48 (total_tax includes the shipping tax)
    ],
)
def test_amount_for_each_choice(wc_order, basis, expected):
    assert map_order(Order.from_wc(wc_order), settings(amount=basis)).payload["amount"] == expected


def test_amount_arithmetic_matches_the_formula_in_the_brief(wc_order):
    order = Order.from_wc(wc_order)
    brief = order.total - order.shipping_gross - order.total_tax + order.shipping_tax
    assert format_amount(brief) == map_order(order, settings()).payload["amount"]


def test_amount_is_two_decimals_half_up_without_separators(wc_order):
    wc_order.update(total="1234567.005", total_tax="0", shipping_total="0", shipping_tax="0")
    assert map_order(Order.from_wc(wc_order), settings()).payload["amount"] == "1234567.01"
    assert format_amount(Decimal("100")) == "100.00"
    assert format_amount(Decimal("0")) == "0.00"


def test_negative_amount_is_rejected_locally(wc_order):
    wc_order.update(total="50.00", shipping_total="60.00", shipping_tax="0", total_tax="0")
    with pytest.raises(UnmappableOrder, match="negative"):
        map_order(Order.from_wc(wc_order), settings(amount="total_excl_shipping"))


@pytest.mark.parametrize("value", [..., None, "", "   ", []])
def test_order_without_a_click_id_is_not_applicable(wc_order, value):
    with pytest.raises(NotApplicable, match=f"no ShopBack transaction_id in meta '{META_KEY}'"):
        map_order(with_meta(wc_order, value), settings())


def test_meta_key_is_configurable(wc_order):
    wc_order["meta_data"].append({"id": 2, "key": "sb_click", "value": "ABCD1234"})
    payload = map_order(Order.from_wc(wc_order), settings(transaction_id_meta_key="sb_click")).payload
    assert payload["transaction_id"] == "ABCD1234"


@pytest.mark.parametrize(
    "value", ["abc-123", "ABC 123", "a" * 65, "x=1&y=2", "ｆｕｌｌｗｉｄｔｈ", {"id": "abc"}, 1.5, True]
)
def test_malformed_click_id_is_a_local_rejection_with_the_reason(wc_order, value):
    with pytest.raises(UnmappableOrder) as caught:
        map_order(with_meta(wc_order, value), settings())
    assert "transaction_id" in str(caught.value) and META_KEY in str(caught.value)
    assert not isinstance(caught.value, NotApplicable)


def test_click_id_is_trimmed_and_integers_are_accepted(wc_order):
    assert map_order(with_meta(wc_order, f"  {CLICK}\n"), settings()).payload["transaction_id"] == CLICK
    assert map_order(with_meta(wc_order, 12345678), settings()).payload["transaction_id"] == "12345678"
    assert map_order(with_meta(wc_order, "ABCD1234"), settings()).payload["transaction_id"] == "ABCD1234"


def test_extra_fields_map_order_data(wc_order):
    wc_order["meta_data"].append({"id": 3, "key": "_utm_campaign", "value": "eid sale"})
    wc_order["meta_data"].append({"id": 4, "key": "_structured", "value": {"a": 1}})
    extra = {
        "adv_unique1": "meta:_utm_campaign",
        "adv_sub2": "payment_method",
        "adv_sub3": "coupon_codes",
        "adv_sub4": "billing.city",
        "adv_sub5": "shipping.company",  # empty → left out
        "adv_unique2": "id",
        "adv_unique3": "meta:_structured",  # not text → left out, noted
        "adv_unique4": "currency",
        "adv_unique5": "status",
    }
    result = map_order(Order.from_wc(wc_order), settings(extra_fields=extra))
    payload = result.payload
    assert payload["adv_sub2"] == "cod"
    assert payload["adv_sub3"] == "eid100"
    assert payload["adv_sub4"] == "Dhaka"
    assert payload["adv_unique1"] == "eid sale"
    assert payload["adv_unique2"] == "727"
    assert payload["adv_unique4"] == "BDT"
    assert payload["adv_unique5"] == "processing"
    assert "adv_sub5" not in payload and "adv_unique3" not in payload
    assert result.note == "left out: adv_unique3 (meta:_structured is not text)"


def test_coupon_codes_are_comma_joined(wc_order):
    wc_order["coupon_lines"].append({"id": 9, "code": "freeship", "discount": "0"})
    payload = map_order(Order.from_wc(wc_order), settings(extra_fields={"adv_sub2": "coupon_codes"})).payload
    assert payload["adv_sub2"] == "eid100,freeship"


def test_odd_values_are_percent_encoded():
    params = {"adv_sub": "WC 1042 & co/#?=+", "adv_sub2": "অর্ডার-৭২৭", "amount": "10.00"}
    query = query_string(params)
    assert query == (
        "adv_sub=WC%201042%20%26%20co%2F%23%3F%3D%2B"
        "&adv_sub2=%E0%A6%85%E0%A6%B0%E0%A7%8D%E0%A6%A1%E0%A6%BE%E0%A6%B0-%E0%A7%AD%E0%A7%A8%E0%A7%AD"
        "&amount=10.00"
    )
    assert dict(parse_qsl(query)) == params


@pytest.mark.parametrize("number", ["1042", "order_123", "INV2024_1042"])
def test_an_alphanumeric_order_number_is_the_adv_sub(wc_order, number):
    wc_order["number"] = number
    assert map_order(Order.from_wc(wc_order), settings()).payload["adv_sub"] == number


@pytest.mark.parametrize("number", ["INV/2024 #1042", "WC-1042", "অর্ডার #৭২৭", "77\u000001", "1" * 65])
def test_an_order_number_shopback_calls_invalid_is_rejected_locally_with_the_reason(wc_order, number):
    # The contract says "alphanumeric" (its example: order_123): the strict reading, docs/shopback.md.
    wc_order["number"] = number
    with pytest.raises(UnmappableOrder, match="adv_sub: it must be 1 to 64 ASCII letters, digits and underscores"):
        map_order(Order.from_wc(wc_order), settings())


def test_an_optional_value_shopback_would_refuse_is_left_out_with_a_note(wc_order):
    wc_order["meta_data"].append({"id": 7, "key": "_long", "value": "x" * 256})
    wc_order["meta_data"].append({"id": 8, "key": "_nul", "value": "a\u0000b"})
    extra = {"adv_sub2": "meta:_long", "adv_sub3": "meta:_nul", "adv_sub4": "payment_method_title"}
    result = map_order(Order.from_wc(wc_order), settings(extra_fields=extra))
    assert "adv_sub2" not in result.payload and "adv_sub3" not in result.payload
    assert result.payload["adv_sub4"]  # an ordinary text with spaces is sent
    assert result.note == (
        "left out: adv_sub2 (meta:_long has a control character or over 255 characters), "
        "adv_sub3 (meta:_nul has a control character or over 255 characters)"
    )


def test_mapping_makes_no_request(wc_order, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("map_order must not send anything")

    monkeypatch.setattr(requests.Session, "request", forbidden)
    destination = ShopBackDestination(settings())
    try:
        assert destination.map_order(Order.from_wc(wc_order)).payload["transaction_id"] == CLICK
    finally:
        destination.close()


def test_registered_and_does_not_support_updates():
    platform = REGISTRY["shopback"](settings())
    try:
        assert [type(lane) for lane in platform.destinations()] == [ShopBackDestination]
    finally:
        platform.close()
    assert ShopBackDestination.supports_update is False


# -- settings -----------------------------------------------------------------------------------

SHOP = """
[woocommerce]
url = "https://shop.example.com"
consumer_key = "ck_0123456789abcdef0123456789abcdef01234567"
consumer_secret = "cs_0123456789abcdef0123456789abcdef01234567"
"""


def load_shopback(tmp_path, body: str):
    path = tmp_path / "config.toml"
    path.write_text(SHOP + "[shopback]\nenabled = true\n" + body)
    return load_settings(path)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SYNC_DAEMON_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SYNC_DAEMON_SHOPBACK__SECURITY_TOKEN", "SYNC_DAEMON_SHOPBACK__OFFER_ID"):
        monkeypatch.delenv(name, raising=False)


def test_valid_settings_load(tmp_path):
    loaded = load_shopback(tmp_path, f'offer_id = 1234\nsecurity_token = "{TOKEN}"\n').shopback
    assert loaded.offer_id == "1234"  # a TOML integer is accepted
    assert loaded.endpoint == "https://shopback.go2cloud.org/aff_lsr"
    assert loaded.amount == "total_excl_shipping_and_tax"


def test_offer_id_must_be_numeric_and_token_32_alphanumerics(tmp_path):
    bad_token = TOKEN[:31] + " "
    with pytest.raises(ConfigurationError) as caught:
        load_shopback(
            tmp_path,
            f'offer_id = "12a4"\nsecurity_token = "{bad_token}"\nextra_fields = {{ adv_sub2 = "nope" }}\n',
        )
    message = str(caught.value)  # every problem at once
    assert "shopback.offer_id: '12a4' is not numeric" in message
    assert "shopback.extra_fields" in message
    assert "shopback.security_token: must be 32 letters and digits (it has 32 characters, 1 of them" in message
    assert TOKEN[:31] not in message


def test_missing_offer_and_token_are_reported_together(tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_shopback(tmp_path, "")
    assert "shopback.offer_id: required" in str(caught.value)
    assert "shopback.security_token: required" in str(caught.value)


def test_disabled_section_needs_nothing():
    assert ShopBackSettings().problems() == []
    assert len(ShopBackSettings().format_problems()) == 2


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('{ adv_sub1 = "number" }', "'adv_sub1' is not a ShopBack optional field"),
        ('{ adv_unique6 = "number" }', "'adv_unique6' is not a ShopBack optional field"),
        ('{ adv_sub2 = "total" }', "'total' is not an order field"),
        ('{ adv_sub2 = "billing.nickname" }', "billing has no field 'nickname'"),
        ('{ adv_sub2 = "meta:" }', "give the meta key"),
        ('{ adv_sub2 = "customer.email" }', "is not an order field"),
    ],
)
def test_extra_fields_are_validated(tmp_path, extra, fragment):
    with pytest.raises(ConfigurationError) as caught:
        load_shopback(tmp_path, f'offer_id = "1"\nsecurity_token = "{TOKEN}"\nextra_fields = {extra}\n')
    assert "shopback.extra_fields" in str(caught.value)
    assert fragment in str(caught.value)


def test_endpoint_must_be_https_except_loopback(tmp_path):
    base = f'offer_id = "1"\nsecurity_token = "{TOKEN}"\n'
    with pytest.raises(ConfigurationError, match=r"shopback.endpoint: must use https://.*query string"):
        load_shopback(tmp_path, base + 'endpoint = "http://shopback.go2cloud.org/aff_lsr"\n')
    with pytest.raises(ConfigurationError, match="query string"):
        load_shopback(tmp_path, base + 'endpoint = "https://shopback.go2cloud.org/aff_lsr?offer_id=1"\n')
    with pytest.raises(ConfigurationError, match="absolute"):
        load_shopback(tmp_path, base + 'endpoint = "shopback.go2cloud.org/aff_lsr"\n')
    loaded = load_shopback(tmp_path, base + 'endpoint = "http://127.0.0.1:8080/aff_lsr"\n')
    assert loaded.shopback.endpoint == "http://127.0.0.1:8080/aff_lsr"


def test_empty_meta_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="transaction_id_meta_key"):
        load_shopback(tmp_path, f'offer_id = "1"\nsecurity_token = "{TOKEN}"\ntransaction_id_meta_key = " "\n')


# -- answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("sucess=true;", "recorded"),  # as documented (sic)
        ("success=true;", "recorded"),
        ("success=true", "recorded"),
        ("\ufeff Success = TRUE ;\r\n", "recorded"),
        ("success=true; conversion_id=99;", "recorded"),
        ("success=false; err_msg=Duplicate recorded with Trans. ID", "duplicate"),
        ("success=false; err_msg=Invalid Trans. ID", "invalid_transaction"),
        ("success=false;err_msg=Invalid Trans. ID;", "invalid_transaction"),
        ("success=false; err_msg=Request offer #1234 does not match session offer #2345.", "offer_mismatch"),
        ("success=false; err_msg=Invalid security token.", "token"),
        ("success=false; err_msg=Conversion limit reached", "refused"),
        ("success=false; err_msg=Invalid adv_sub", "invalid_field"),
        ("success=false; err_msg=invalid adv_unique2.", "invalid_field"),
        ("success=false; err_msg=Invalid amount", "invalid_field"),
        ("success=false; err_msg=Missing adv_sub", "invalid_field"),
        ("success=true; err_msg=Invalid Trans. ID", "unrecognised"),
        ("success=false;", "unrecognised"),
        ("maintenance", "unrecognised"),
        ("", "unrecognised"),
        ("<html><body>sucess=true;</body></html>", "unrecognised"),
        ("sucess=true; sucess=true; <b>", "unrecognised"),
        ("success=maybe;", "unrecognised"),
        ("success=false; err_msg=Invalid Trans. ID" + " " * 3000 + "x", "unrecognised"),
    ],
)
def test_answers_are_read_strictly_and_tolerantly(body, kind):
    assert parse_answer(body).kind == kind


def test_offer_mismatch_keeps_the_platform_message():
    message = "Request offer #1234 does not match session offer #2345."
    assert parse_answer(f"success=false; err_msg={message}").message == message


# -- the connector against the simulator ---------------------------------------------------------


@pytest.fixture
def shopback():
    """ShopBack with the known ``TOKEN`` (the shared fixture in tests/conftest.py has a random one)."""
    with ShopBackSimulator(offer_id="1234", security_token=TOKEN) as simulator:
        yield simulator


@pytest.fixture
def destination(shopback):
    built = ShopBackDestination(settings(endpoint=shopback.endpoint, timeout_seconds=0.5))
    yield built
    built.close()


def postback(transaction_id="ABCD1234", **overrides):
    return {"offer_id": "1234", "adv_sub": "order_123", "transaction_id": transaction_id, "amount": "100", **overrides}


def test_documented_success_spelling_is_recorded(shopback, destination):
    shopback.register_click("ABCD1234")
    result = destination.push(postback(), operation="create", remote_id=None)
    assert (result.remote_id, result.detail) == ("ABCD1234", "recorded")
    (conversion,) = shopback.conversions()
    assert conversion["params"] == postback()
    assert conversion["requests"] == 1
    assert "security_token" not in conversion["params"] and TOKEN not in conversion["query"]


def test_correct_success_spelling_is_recorded():
    with ShopBackSimulator(security_token=TOKEN, correct_spelling=True) as simulator:
        simulator.register_click("ABCD1234")
        destination = ShopBackDestination(settings(endpoint=simulator.endpoint))
        assert destination.push(postback(), operation="create", remote_id=None).detail == "recorded"
        assert simulator.conversion("ABCD1234")["requests"] == 1
        destination.close()


def test_duplicate_counts_as_delivered(shopback, destination):
    shopback.register_click("ABCD1234")
    destination.push(postback(), operation="create", remote_id=None)
    again = destination.push(postback(), operation="create", remote_id=None)
    assert (again.remote_id, again.detail) == ("ABCD1234", "already recorded (duplicate)")
    assert len(shopback.conversions()) == 1
    assert shopback.requests_by_transaction_id() == {"ABCD1234": 2}


@pytest.mark.parametrize("transaction_id", ["UNKNOWN1", "bad-id"])
def test_invalid_transaction_id_is_a_permanent_rejection(shopback, destination, transaction_id):
    with pytest.raises(PermanentError, match=r"Invalid Trans\. ID") as caught:
        destination.push(postback(transaction_id), operation="create", remote_id=None)
    assert transaction_id in str(caught.value)
    assert shopback.conversions() == []


def test_offer_mismatch_is_a_permanent_rejection_with_the_platform_message(shopback, destination):
    shopback.register_click("ABCD1234", offer_id="2345")
    with pytest.raises(PermanentError) as caught:
        destination.push(postback(), operation="create", remote_id=None)
    assert "Request offer #1234 does not match session offer #2345." in str(caught.value)
    assert not isinstance(caught.value, UnmappableOrder)


@pytest.mark.parametrize(
    ("garbage", "shown"),
    [("html", "Scheduled maintenance"), ("maintenance", "'maintenance'"), ("empty", "(empty body)")],
)
def test_unrecognised_answer_is_retried_a_few_times_with_the_body(shopback, destination, garbage, shown):
    shopback.register_click("ABCD1234")
    shopback.set_garbage(garbage)
    with pytest.raises(RetryableError) as caught:
        destination.push(postback(), operation="create", remote_id=None)
    assert caught.value.max_attempts == 3
    assert "unrecognised answer" in str(caught.value) and shown in str(caught.value)
    shopback.set_garbage(None)
    assert destination.push(postback(), operation="create", remote_id=None).detail == "recorded"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"adv_sub": "INV/2024 #1042"}, "Invalid adv_sub"),
        ({"amount": "10.005"}, "Invalid amount"),
        ({"adv_unique2": "a\x00b"}, "Invalid adv_unique2"),
        ({"adv_sub5": "x" * 256}, "Invalid adv_sub5"),
    ],
)
def test_a_value_shopback_calls_invalid_is_a_permanent_rejection(shopback, destination, overrides, message):
    shopback.register_click("ABCD1234")
    with pytest.raises(PermanentError, match=message):
        destination.push(postback(**overrides), operation="create", remote_id=None)
    assert shopback.conversions() == []


def test_an_order_number_shopback_refuses_ends_rejected_without_a_request(tmp_path, woocommerce, shopback):
    click = "ABCD1234"
    shopback.register_click(click)
    order = make_order(1042, created=datetime.now(UTC) - timedelta(hours=1))
    order["number"] = "INV/2024 #1042"
    order["meta_data"].append({"id": 9, "key": META_KEY, "value": click})
    woocommerce.add_orders([order])
    config = Settings.model_validate({
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "shopback": {"enabled": True, "endpoint": shopback.endpoint, "offer_id": "1234", "security_token": TOKEN},
    })
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(config, ledger, threading.Event())
    try:
        engine.startup()
        summary = engine.sync_pass()
        row = ledger.delivery(1042, "shopback")
    finally:
        engine.close()
        ledger.close()
    assert summary.rejected == 1
    assert row["state"] == "rejected" and "adv_sub" in row["last_error"]
    assert shopback.stats()["total"] == 0


def test_unknown_refusal_is_retried_a_few_times(shopback, destination):
    shopback.set_garbage("success=false; err_msg=Offer paused")
    with pytest.raises(RetryableError, match="Offer paused") as caught:
        destination.push(postback(), operation="create", remote_id=None)
    assert caught.value.max_attempts == 3


def test_wrong_token_pauses_the_destination(shopback, destination):
    shopback.register_click("ABCD1234")
    shopback.rotate_token()
    with pytest.raises(AuthError, match="credentials rejected"):
        destination.push(postback(), operation="create", remote_id=None)
    assert shopback.conversions() == []


def test_unreachable_endpoint_is_retryable():
    with ShopBackSimulator() as simulator:
        endpoint = simulator.endpoint
    destination = ShopBackDestination(settings(endpoint=endpoint, timeout_seconds=1))
    with pytest.raises(RetryableError, match="cannot connect"):
        destination.push(postback(), operation="create", remote_id=None)
    destination.close()


def test_wrong_path_pauses_as_configuration(shopback):
    destination = ShopBackDestination(settings(endpoint=shopback.url + "/aff_lsr_typo"))
    with pytest.raises(ConfigurationError, match="endpoint URL looks wrong"):
        destination.push(postback(), operation="create", remote_id=None)
    destination.close()


class FakeResponse:
    def __init__(self, status, body=b"", headers=None):
        self.status_code = status
        self.content = body
        self.text = body.decode()
        self.headers = headers or {}
        self.reason = "Found"


def test_redirects_are_not_followed_and_the_token_is_not_echoed(monkeypatch, destination):
    location = f"https://elsewhere.example/aff_lsr?offer_id=1234&security_token={TOKEN}"
    sent = {}

    def fake_send(session, method, url, **kwargs):
        sent.update(kwargs, url=url)
        return FakeResponse(302, headers={"Location": location})

    monkeypatch.setattr("sync_daemon.platforms.shopback.client.http.send", fake_send)
    with pytest.raises(ConfigurationError) as caught:
        destination.push(postback(), operation="create", remote_id=None)
    assert sent["allow_redirects"] is False
    assert "https://elsewhere.example/aff_lsr" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_push_ignores_a_token_smuggled_into_the_payload(shopback, destination):
    shopback.register_click("ABCD1234")
    destination.push(postback(security_token="x" * 32), operation="create", remote_id=None)
    assert shopback.conversion("ABCD1234") is not None  # the configured token was used


def test_check_connection_reaches_the_endpoint_without_the_token(shopback, destination):
    result = check_connection(destination)
    assert result.ok, result.message
    assert "only a real conversion proves them" in result.message
    (request,) = shopback.request_log()
    assert request["path"] == "/aff_lsr"
    assert shopback.conversions() == [] and shopback.requests_by_transaction_id() == {}


def test_check_connection_reports_bad_settings_and_wrong_hosts(shopback):
    bad = ShopBackDestination(settings(endpoint=shopback.endpoint, offer_id=""))
    assert not check_connection(bad).ok
    assert shopback.request_log() == []
    shopback.set_garbage("html")
    html = check_connection(ShopBackDestination(settings(endpoint=shopback.endpoint)))
    assert not html.ok and "not in ShopBack's postback format" in html.message
    with ShopBackSimulator() as gone:
        endpoint = gone.endpoint
    down = check_connection(ShopBackDestination(settings(endpoint=endpoint, timeout_seconds=1)))
    assert not down.ok and "cannot connect" in down.message


def test_the_token_never_appears_in_errors_or_logs(shopback, destination, captured_logs, caplog):
    caplog.set_level(logging.DEBUG)
    log = structlog.get_logger("test")
    shopback.register_click("ABCD1234")
    shopback.register_click("OTHER123", offer_id="999")
    texts = []
    scenarios = [
        lambda: shopback.add_fault("reset", count=1),
        lambda: shopback.add_fault("timeout", delay=1, count=1),
        lambda: shopback.add_fault("status", status=500, count=1),
        lambda: shopback.add_fault("html", count=1),
        lambda: shopback.set_garbage(f"success=false; err_msg=Bad token {TOKEN}"),
        lambda: shopback.set_garbage(f"<html>security_token={TOKEN}</html>"),
        lambda: shopback.set_garbage(None),
    ]
    for arrange in scenarios:
        arrange()
        for payload in (postback(), postback("OTHER123"), postback("bad-id"), postback()):
            try:
                result = destination.push(payload, operation="create", remote_id=None)
                texts.append(repr(result))
            except SyncError as error:
                texts.append(str(error))
                log.warning("push failed", error=str(error), exc_info=True)
    texts.append(repr(check_connection(destination)))
    assert any("unrecognised" in text for text in texts) and any("recorded" in text for text in texts)
    everything = "\n".join(texts) + captured_logs.getvalue() + caplog.text
    assert TOKEN not in everything
    assert "security_token=***" in everything  # the body that echoed it was masked, not dropped
    assert '"event": "push failed"' in captured_logs.getvalue()
