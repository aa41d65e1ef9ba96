"""The WooCommerce source against the simulator: keyset paging, timestamps, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, RetryableError
from sync_daemon.core.redaction import register
from sync_daemon.simulators.orders import make_order
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import UNSTORABLE_ESCAPES, WooCommerceSource, format_gmt

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


BASE = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def source_for(woocommerce, **settings):
    credentials = woocommerce.credentials
    return WooCommerceSource(WooCommerceSettings(
        url=woocommerce.url, consumer_key=credentials["consumer_key"], consumer_secret=credentials["consumer_secret"],
        **settings,
    ))


def seed(woocommerce, count, *, start=1, spacing=timedelta(seconds=10)):
    woocommerce.add_orders([make_order(start + i, created=BASE + spacing * i) for i in range(count)])


def read_all(source, after=BASE - timedelta(days=1), on_page=None):
    seen = []
    for number, page in enumerate(source.iter_pages(after)):
        seen.extend(order["id"] for order in page)
        if on_page:
            on_page(number)
    return seen


def test_reads_every_order_across_pages_oldest_first(woocommerce):
    seed(woocommerce, 250)
    seen = read_all(source_for(woocommerce))
    assert sorted(set(seen)) == list(range(1, 251))
    assert seen[:3] == [1, 2, 3]


def test_an_order_modified_mid_scan_does_not_make_its_neighbour_skipped(woocommerce):
    seed(woocommerce, 250)
    # While page 1 is being recorded, order 5 is edited: it moves to the end of the list, and
    # with plain page numbers the first order of page 2 would slide onto page 1 and be skipped.
    seen = read_all(
        source_for(woocommerce), on_page=lambda number: number == 0 and woocommerce.edit_order(5, customer_note="x")
    )
    assert set(range(1, 251)) <= set(seen)


def test_more_than_a_page_in_the_same_second(woocommerce):
    seed(woocommerce, 230, spacing=timedelta(0))
    seen = read_all(source_for(woocommerce))
    assert sorted(set(seen)) == list(range(1, 231))


@pytest.mark.parametrize("tie_seed", range(5))
def test_three_pages_and_more_in_one_second_miss_no_order(woocommerce, tie_seed):
    # 23 orders in one second between others, 5 a page: the shop returns the tied rows in another
    # order on each request, so page numbers would overlap and skip some (issue 27).
    woocommerce.tie_seed = tie_seed
    seed(woocommerce, 4, spacing=timedelta(seconds=1))
    seed(woocommerce, 23, start=5, spacing=timedelta(0))
    woocommerce.add_orders([make_order(28 + i, created=BASE + timedelta(seconds=5 + i)) for i in range(6)])
    seen = read_all(source_for(woocommerce, per_page=5))
    assert sorted(set(seen)) == list(range(1, 34))
    # Bounded: each second is listed once (6 requests for its 23 rows, one row of overlap each).
    assert woocommerce.count("GET", "/wp-json/wc/v3/orders") <= 15


def test_an_order_leaving_the_tied_second_mid_listing_skips_no_neighbour(woocommerce):
    seed(woocommerce, 20, spacing=timedelta(0))
    source = source_for(woocommerce, per_page=5)
    pages = source.iter_pages(BASE - timedelta(days=1))
    next(pages)  # five of the twenty, in the database's order of the moment
    seen = [order["id"] for order in next(pages)]  # the second listed by id: 1…5
    # Orders 2 and 3 are edited: they leave that second and every later id moves up two places.
    woocommerce.edit_order(2, customer_note="x")
    woocommerce.edit_order(3, customer_note="y")
    for page in pages:
        seen += [order["id"] for order in page]
    assert set(seen) == set(range(1, 21))


def test_a_shop_ignoring_offset_is_an_error_not_a_loop(woocommerce, monkeypatch):
    seed(woocommerce, 12, spacing=timedelta(0))
    list_args = woocommerce._list_args
    monkeypatch.setattr(woocommerce, "_list_args", lambda query: list_args({**query, "offset": "0"}))
    with pytest.raises(RetryableError, match="ignores offset"):
        read_all(source_for(woocommerce, per_page=5))


def test_modified_after_is_a_plain_utc_timestamp():
    dhaka = timezone(timedelta(hours=6))
    assert format_gmt(datetime(2026, 11, 1, 18, 0, 5, tzinfo=dhaka)) == "2026-11-01T12:00:05"  # no Z, no offset


def test_window_is_strict_and_in_utc(woocommerce):
    seed(woocommerce, 3)  # modified at 12:00:00, 12:00:10, 12:00:20 UTC
    # With a Z suffix the simulator (like WooCommerce) would shift this window by the store's +06:00.
    assert read_all(source_for(woocommerce), after=BASE + timedelta(seconds=10)) == [3]


def test_every_status_is_read_and_the_engine_chooses(woocommerce):
    # The source does not filter by status: an order already synced must be followed into
    # cancelled or completed. Which unknown orders take part is the engine's choice.
    woocommerce.add_orders([make_order(1, created=BASE, status="processing"),
                            make_order(2, created=BASE, status="completed"),
                            make_order(3, created=BASE, status="on-hold"), make_order(4, created=BASE, status="trash")])
    assert sorted(read_all(source_for(woocommerce))) == [1, 2, 3]


def test_wrong_secret_is_auth_error_without_the_secret(woocommerce):
    register("cs_wrong_but_secret_value")
    source = WooCommerceSource(WooCommerceSettings(
        url=woocommerce.url, consumer_key=woocommerce.credentials["consumer_key"],
        consumer_secret="cs_wrong_but_secret_value"))
    with pytest.raises(AuthError) as caught:
        read_all(source)
    assert "cs_wrong_but_secret_value" not in str(caught.value)


def test_rest_api_off_html_and_down(woocommerce):
    source = source_for(woocommerce)
    woocommerce.update_settings(rest_disabled=True)
    with pytest.raises(ConfigurationError, match="permalinks"):
        read_all(source)
    woocommerce.update_settings(rest_disabled=False, html_mode=True)
    with pytest.raises(RetryableError, match="HTML page instead of JSON"):
        read_all(source)
    woocommerce.update_settings(html_mode=False)
    woocommerce.set_faults([{"kind": "status", "status": 503, "count": 1}])
    with pytest.raises(RetryableError, match="503"):
        read_all(source)
    woocommerce.set_faults([{"kind": "timeout", "delay": 3, "count": 1}])
    with pytest.raises(RetryableError, match="no answer"):
        read_all(source_for(woocommerce, timeout_seconds=0.5))


def test_unknown_order_and_write_to_unknown_order(woocommerce):
    source = source_for(woocommerce)
    with pytest.raises(PermanentError, match="invalid_id"):
        source.get_order(424242)
    with pytest.raises(PermanentError, match="invalid_id"):
        source.update_order(424242, {"status": "completed"})


def test_connection_refused_is_retryable_and_names_no_query(woocommerce):
    source = source_for(woocommerce)
    woocommerce.stop()
    with pytest.raises(RetryableError) as caught:
        read_all(source)
    assert "oauth_signature" not in str(caught.value) and "cannot connect" in str(caught.value)


def test_a_page_is_plain_only_without_an_escape_of_an_unstorable_text(woocommerce):
    """The engine skips the order-by-order check only for a page whose answer holds no such escape."""
    woocommerce.add_orders([make_order(1, created=BASE), make_order(2, created=BASE + timedelta(seconds=5))])
    source = source_for(woocommerce, per_page=1)
    plain = []
    for _ in source.iter_pages(BASE - timedelta(days=1)):
        plain.append(source.last_answer_plain)
    assert plain and all(plain)
    order = woocommerce.get_order(2)
    woocommerce.edit_order(2, billing={**order["billing"], "first_name": "Ra\u0000him"})
    seen = {}
    for page in source.iter_pages(BASE - timedelta(days=1)):
        for raw in page:
            seen[raw["id"]] = source.last_answer_plain
    assert seen == {1: True, 2: False}
    # What a lone surrogate is sent as (the simulator cannot send one: it answers UTF-8).
    assert UNSTORABLE_ESCAPES.search(b'{"customer_note": "a lone \\ud83d half"}')
