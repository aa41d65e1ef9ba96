from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sync_daemon.core.order import InvalidOrder, Order, parse_money


def test_parses_a_real_shaped_order(wc_order):
    order = Order.from_wc(wc_order)
    assert order.id == 727
    assert order.total == Decimal("1053.00")
    assert order.date_modified_gmt == datetime(2026, 11, 20, 13, 22, 10, tzinfo=UTC)
    assert order.phone == "+880 1711-234567"
    assert order.customer_name == "Karim Khan"  # the shipping name: that is who receives it
    assert order.delivery_address.one_line() == "Flat 3B, 12 Gulshan Avenue, Dhaka, 1212"
    assert order.line_items[0].gross_total == Decimal("942.90")
    assert order.meta["_shopback_transaction_id"] == "102b983f153f632c9a0a1469e27b55"
    assert order.coupon_codes == ("eid100",)


def test_phone_falls_back_to_shipping(wc_order):
    wc_order["billing"]["phone"] = ""
    wc_order["shipping"]["phone"] = "01812345678"
    assert Order.from_wc(wc_order).phone == "01812345678"


def test_null_addresses_and_fields_do_not_crash(wc_order):
    wc_order["billing"] = None
    wc_order["shipping"] = {"first_name": None, "phone": None}
    wc_order["customer_note"] = None
    wc_order["fee_lines"] = None
    order = Order.from_wc(wc_order)
    assert order.phone == ""
    assert order.fee_lines == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda o: o.update(total="1,053.00"), "not a plain number"),
        (lambda o: o.pop("date_modified_gmt"), "date_modified_gmt is missing"),
        (lambda o: o.update(currency="taka"), "not an ISO 4217"),
        (lambda o: o.update(id="727"), "not a positive integer"),
        (lambda o: o["line_items"][0].update(quantity="two"), "not a whole number"),
    ],
)
def test_unusable_fields_make_the_order_invalid_with_a_reason(wc_order, change, reason):
    change(wc_order)
    with pytest.raises(InvalidOrder, match=reason):
        Order.from_wc(wc_order)


def test_money_is_decimal_from_text_never_float():
    assert parse_money("0.10", "x") + parse_money("0.20", "x") == Decimal("0.30")
    assert parse_money(449, "x") == Decimal("449")
    assert parse_money(None, "x") == Decimal("0")
    with pytest.raises(InvalidOrder):
        parse_money(True, "x")
