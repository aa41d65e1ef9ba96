"""OrderRepo mapping and currencies: pure functions, no HTTP."""

from decimal import Decimal

import pytest

from sync_daemon.core.currencies import minor_unit_exponent, to_minor_units
from sync_daemon.core.errors import RetryableError, UnmappableOrder
from sync_daemon.core.order import Order
from sync_daemon.platforms.orderrepo import OrderRepoSettings, map_order, order_id_from_external


def mapped(raw, lookup=None, **settings):
    return map_order(Order.from_wc(raw), OrderRepoSettings(**settings), lookup)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("1053.00", "BDT", 105300), ("19.99", "USD", 1999), ("1500", "JPY", 1500), ("1500.00", "JPY", 1500),
     ("12.345", "KWD", 12345), ("7.5", "BHD", 7500), ("0.005", "EUR", 1), ("0.004", "EUR", 0)],
)
def test_minor_units_follow_iso_4217(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor


def test_unknown_currency_is_a_clear_rejection():
    assert minor_unit_exponent("bdt") == 2
    with pytest.raises(UnmappableOrder, match="'XYZ' is not an ISO 4217 code"):
        minor_unit_exponent("XYZ")


def test_maps_a_real_shaped_order(wc_order):
    payload = mapped(wc_order, fallback_image_url="https://shop.example.com/placeholder.png").payload
    assert payload["id"] == "727"
    assert payload["total"] == 105300 and isinstance(payload["total"], int)
    assert payload["currency"] == "BDT"
    assert payload["phone"] == "+880 1711-234567"
    assert payload["email"] == "rahim@example.com"
    assert payload["username"] == "Rahim Khan"
    assert payload["products"] == [
        {"name": "Red T-Shirt - L", "price": 47145, "count": 2,
         "image": "https://shop.example.com/wp-content/uploads/red-tshirt.jpg"},
        {"name": "Sticker", "price": 210, "count": 1, "image": "https://shop.example.com/placeholder.png"},
    ]
    names = {pair["name"]: pair["value"] for pair in payload["data"]}
    assert names["WooCommerce status"] == "processing"
    assert names["Order number"] == "727"
    assert names["Payment method"] == "Cash on delivery"
    assert names["Customer note"] == "Please call before delivery"
    assert names["Delivery address"] == "Flat 3B, 12 Gulshan Avenue, Dhaka, 1212, BD"


def test_id_prefix_round_trips(wc_order):
    assert mapped(wc_order, id_prefix="wc-", fallback_image_url="https://x.example/i.png").payload["id"] == "wc-727"
    assert order_id_from_external("wc-727", "wc-") == 727
    assert order_id_from_external("other-727", "wc-") is None
    assert order_id_from_external("727", "") == 727


def test_product_image_lookup_is_used_before_the_fallback(wc_order):
    asked = []

    def lookup(product_id):
        asked.append(product_id)
        return "https://shop.example.com/sticker.jpg"

    payload = mapped(wc_order, lookup, fallback_image_url="https://x.example/fallback.png").payload
    assert payload["products"][1]["image"] == "https://shop.example.com/sticker.jpg"
    assert asked == [22]


def test_a_lookup_the_shop_did_not_answer_is_no_reason_to_reject(wc_order):
    def unanswered(product_id):
        raise RetryableError("could not look up the image of product 22: WooCommerce: HTTP 503")

    # Without a fallback the order waits for the shop (the page is read again), it is not refused.
    with pytest.raises(RetryableError, match="product 22"):
        mapped(wc_order, unanswered)
    payload = mapped(wc_order, unanswered, fallback_image_url="https://x.example/fallback.png").payload
    assert payload["products"][1]["image"] == "https://x.example/fallback.png"


def test_no_image_anywhere_rejects_with_what_to_do(wc_order):
    with pytest.raises(UnmappableOrder, match="'Sticker' has no image.*fallback_image_url"):
        mapped(wc_order, lambda product_id: None)


@pytest.mark.parametrize("currency, total, minor", [("JPY", "1500", 1500), ("KWD", "12.345", 12345)])
def test_order_currency_is_kept_never_rub(wc_order, currency, total, minor):
    wc_order.update(currency=currency, total=total, fee_lines=[], shipping_total="0", shipping_tax="0")
    payload = mapped(wc_order, fallback_image_url="https://x.example/i.png").payload
    assert (payload["currency"], payload["total"]) == (currency, minor)


def test_invalid_email_is_left_out_and_noted(wc_order):
    wc_order["billing"]["email"] = "rahim at example"
    result = mapped(wc_order, fallback_image_url="https://x.example/i.png")
    assert "email" not in result.payload
    assert "not a valid address" in result.note


def test_zero_quantity_rejects(wc_order):
    wc_order["line_items"][0]["quantity"] = 0
    with pytest.raises(UnmappableOrder, match="quantity 0"):
        mapped(wc_order, fallback_image_url="https://x.example/i.png")


def test_free_item_is_sent_with_price_zero(wc_order):
    wc_order["line_items"][1].update(total="0.00", total_tax="0.00")
    payload = mapped(wc_order, fallback_image_url="https://x.example/i.png").payload
    assert payload["products"][1]["price"] == 0


def test_huge_customer_note_is_truncated(wc_order):
    wc_order["customer_note"] = "x" * 1_000_000
    pairs = {p["name"]: p["value"] for p in mapped(wc_order, fallback_image_url="https://x.example/i.png").payload["data"]}
    assert len(pairs["Customer note"]) == 1000


def test_status_change_changes_the_payload(wc_order):
    before = mapped(wc_order, fallback_image_url="https://x.example/i.png").payload
    wc_order["status"] = "cancelled"
    after = mapped(wc_order, fallback_image_url="https://x.example/i.png").payload
    assert before != after
