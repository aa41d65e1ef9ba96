"""GoTrack mapping: pure functions, no HTTP."""

from decimal import Decimal

import pytest

from sync_daemon.core.errors import UnmappableOrder
from sync_daemon.core.order import Order
from sync_daemon.platforms.gotrack import GoTrackSettings, map_order


def gotrack_total(payload):
    """What GoTrack computes: Σ quantity × selling_price + delivery_charge + cod_charge."""
    lines = sum(Decimal(repr(line["selling_price"])) * line["quantity"] for line in payload["line_items"])
    return lines + Decimal(repr(payload["delivery_charge"])) + Decimal(repr(payload["cod_charge"]))


def mapped(raw, **settings):
    return map_order(Order.from_wc(raw), GoTrackSettings(**settings))


def test_maps_taxes_coupons_shipping_and_fees(wc_order):
    result = mapped(wc_order)
    payload = result.payload
    assert payload["external_order_id"] == "727"
    assert payload["external_source"] == "woocommerce"
    assert payload["customer"] == {
        "phone": "01711234567",
        "name": "Karim Khan",
        "address": "Flat 3B, 12 Gulshan Avenue, Dhaka, 1212",
    }
    assert payload["line_items"] == [
        {"name": "Red T-Shirt - L", "quantity": 2, "selling_price": 471.45},  # (898 + 44.90 VAT) / 2
        {"name": "Sticker", "quantity": 1, "selling_price": 2.1},
        {"name": "Gift wrap", "quantity": 1, "selling_price": 25},  # a non-COD fee becomes a line
    ]
    assert payload["delivery_charge"] == 63  # shipping plus shipping tax
    assert payload["cod_charge"] == 20
    assert gotrack_total(payload) == Order.from_wc(wc_order).total
    assert result.note is None


def test_uneven_unit_price_is_split_so_the_total_stays_exact(wc_order):
    line = wc_order["line_items"][0]
    line.update(quantity=3, total="100.00", total_tax="0.00")
    wc_order["total"] = "210.10"  # 100 + 2.10 + 25 + 63 + 20
    payload = mapped(wc_order).payload
    assert payload["line_items"][:2] == [
        {"name": "Red T-Shirt - L", "quantity": 2, "selling_price": 33.33},
        {"name": "Red T-Shirt - L", "quantity": 1, "selling_price": 33.34},
    ]
    assert gotrack_total(payload) == Decimal("210.10")


def test_zero_priced_gift_is_left_out_and_noted(wc_order):
    wc_order["line_items"].append(
        {"id": 400, "name": "Free gift: Tote bag", "product_id": 7, "variation_id": 0, "quantity": 1,
         "subtotal": "0.00", "subtotal_tax": "0.00", "total": "0.00", "total_tax": "0.00", "price": 0}
    )
    result = mapped(wc_order)
    assert all(line["name"] != "Free gift: Tote bag" for line in result.payload["line_items"])
    assert result.note == "left out free item(s): 1 × Free gift: Tote bag"
    with pytest.raises(UnmappableOrder, match="is free"):
        mapped(wc_order, zero_price_items="reject")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda o: (o["billing"].update(phone=""), o["shipping"].update(phone="")), "no customer phone"),
        (lambda o: o["billing"].update(phone="12345"), "not a Bangladeshi mobile"),
        (lambda o: o["line_items"][0].update(quantity=0), "quantity 0"),
        (lambda o: o["line_items"][0].update(quantity=-1), "quantity -1"),
        (lambda o: o["fee_lines"].append({"name": "Loyalty discount", "total": "-50.00", "total_tax": "0"}),
         "negative"),
        (lambda o: o.update(total="999.00"), "would compute a total of 1053.00 but the WooCommerce order total is 999"),
        (lambda o: o.update(line_items=[]), "no product with a price above 0"),
    ],
)
def test_unmappable_orders_are_rejected_with_a_reason(wc_order, change, reason):
    change(wc_order)
    with pytest.raises(UnmappableOrder, match=reason):
        mapped(wc_order)


def test_phone_format_setting(wc_order):
    assert mapped(wc_order, phone_format="e164").payload["customer"]["phone"] == "+8801711234567"


def test_cod_fee_pattern_is_configurable(wc_order):
    payload = mapped(wc_order, cod_fee_pattern="(?i)gift wrap").payload
    assert payload["cod_charge"] == 25
    assert {"name": "Cash on delivery fee", "quantity": 1, "selling_price": 20} in payload["line_items"]


def test_mapping_is_deterministic(wc_order):
    assert mapped(wc_order).payload == mapped(wc_order).payload
