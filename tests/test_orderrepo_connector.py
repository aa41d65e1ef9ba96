"""The OrderRepo connector against its simulator (in-process), answer by answer."""

from __future__ import annotations

import pytest

from sync_daemon.config import Settings
from sync_daemon.core.errors import AuthError, ConfigurationError, PermanentError, QuotaError, RetryableError
from sync_daemon.core.order import Order
from sync_daemon.core.urls import origin_of
from sync_daemon.platforms import ShopContext
from sync_daemon.platforms.orderrepo import OrderRepoDestination, OrderRepoEventDestination, OrderRepoStatuses
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.source.images import ProductImages
from sync_daemon.source.woocommerce import WooCommerceSource

ORIGIN = "https://shop.example.com"
PAYLOAD = {"id": "77", "total": 12345, "currency": "BDT"}


@pytest.fixture
def repo():
    with OrderRepoSimulator(allowed_origins=(ORIGIN,), events={"evt": True, "off": False}) as simulator:
        yield simulator


def destination(repo, shop_url=ORIGIN, **orderrepo):
    settings = Settings.model_validate({
        "woocommerce": {"url": shop_url, "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "orderrepo": {"enabled": True, "base_url": repo.url, "api_key": repo.api_key, **orderrepo},
    })
    return OrderRepoDestination(settings.orderrepo, shop_of(settings)), settings


def shop_of(settings, product_image=None):
    url = settings.woocommerce.url
    if product_image is None:
        return ShopContext(url=url, origin=origin_of(url))
    return ShopContext(url=url, origin=origin_of(url), product_image=product_image)


def test_create_then_update_then_404_update_falls_back_to_create(repo):
    dest, _ = destination(repo)
    assert dest.push(PAYLOAD, operation="create").detail == "created"
    assert dest.push({**PAYLOAD, "total": 1}, operation="update").detail == "updated"
    repo.reset()
    assert dest.push({**PAYLOAD, "total": 2}, operation="update").detail == "created"
    assert repo.order("77")["payload"]["total"] == 2


def test_duplicate_create_is_confirmed_and_brought_up_to_date(repo):
    dest, _ = destination(repo)
    dest.push(PAYLOAD, operation="create")
    result = dest.push({**PAYLOAD, "total": 999}, operation="create")
    assert "already existed" in result.detail
    stored = repo.order("77")
    assert stored["payload"]["total"] == 999 and stored["track_requests"] == 2 and len(repo.orders()) == 1


@pytest.mark.parametrize("answer", ["validation", "conflict", "bare"])
def test_a_duplicate_is_recognised_whatever_the_refusal_says(repo, answer):
    repo.update_settings(duplicate_answer=answer)
    dest, _ = destination(repo)
    dest.push(PAYLOAD, operation="create")  # the create whose answer was lost
    result = dest.push({**PAYLOAD, "total": 5}, operation="create")
    assert "already existed (confirmed)" in result.detail
    assert repo.order("77")["payload"]["total"] == 5 and len(repo.orders()) == 1


def test_an_invalid_order_is_rejected_after_one_look_at_the_read_endpoint(repo):
    dest, _ = destination(repo)
    with pytest.raises(PermanentError, match="Validation error"):
        dest.push({"id": "x", "total": "12"}, operation="create")
    reads = [entry for entry in repo.request_log() if entry["method"] == "GET"]
    assert [entry["path"] for entry in reads] == ["/api/external/orders/x"]


def test_the_error_table(repo):
    dest, _ = destination(repo)
    with pytest.raises(PermanentError, match="Validation error"):
        dest.push({"id": "x", "total": "12"}, operation="create")
    repo.update_settings(monthly_limit_reached=True)
    with pytest.raises(QuotaError, match="Monthly order limit"):
        dest.push(PAYLOAD, operation="create")
    repo.update_settings(monthly_limit_reached=False, allowed_origins=["https://other.example.com"])
    with pytest.raises(AuthError, match=f"add {ORIGIN} to the OrderRepo project's domains"):
        dest.push(PAYLOAD, operation="create")
    repo.update_settings(api_key_active=False)
    with pytest.raises(AuthError, match="rejected the API key") as caught:
        dest.push(PAYLOAD, operation="create")
    assert repo.api_key not in str(caught.value)
    repo.set_faults([{"kind": "status", "status": 503}])
    with pytest.raises(RetryableError):
        dest.push(PAYLOAD, operation="create")


def test_origin_defaults_to_the_shop_and_can_be_set(repo):
    assert destination(repo, "https://shop.example.com/blog")[0].origin == ORIGIN
    assert destination(repo, origin="https://other.example.com")[0].origin == "https://other.example.com"


def test_statuses_list_and_single(repo):
    dest, settings = destination(repo, id_prefix="wc-")
    for number in range(1, 4):
        dest.push({**PAYLOAD, "id": f"wc-{number}"}, operation="create")
    repo.set_order_status("wc-2", "done")
    reader = OrderRepoStatuses(settings.orderrepo, shop_of(settings))
    statuses = {order_id: status for order_id, status, _ in reader.rows()}
    assert statuses == {1: "new", 2: "done", 3: "new"}
    assert reader.fetch_one(2)[0] == "done"
    assert reader.fetch_one(42) is None


def test_events_unknown_or_inactive_key_is_a_configuration_error(repo):
    _, settings = destination(repo, events={"created": "evt"})
    event = OrderRepoEventDestination(settings.orderrepo, shop_of(settings), "created")
    assert event.push({"event": "evt", "data": [{"name": "Order id", "value": "1"}]}).detail == "event created sent"
    for key in ("off", "nope"):
        with pytest.raises(ConfigurationError, match="event key for 'created' refused"):
            event.push({"event": key, "data": [{"name": "Order id", "value": "1"}]})


def test_product_image_is_looked_up_once_and_cached(repo, wc_order, woocommerce):
    woocommerce.add_product(22, "Sticker", "https://shop.example.com/sticker.jpg")
    credentials = woocommerce.credentials
    settings = Settings.model_validate({
        "woocommerce": {"url": woocommerce.url, "consumer_key": credentials["consumer_key"],
                        "consumer_secret": credentials["consumer_secret"]},
        "orderrepo": {"enabled": True, "base_url": repo.url, "api_key": repo.api_key},
    })
    images = ProductImages(WooCommerceSource(settings.woocommerce))
    dest = OrderRepoDestination(settings.orderrepo, shop_of(settings, images.lookup))
    order = Order.from_wc(wc_order)
    woocommerce.add_fault("status", status=503, count=1)
    with pytest.raises(RetryableError, match="image of product 22"):
        dest.map_order(order)  # not cached: the next mapping asks again
    for _ in range(3):
        payload = dest.map_order(order).payload
    assert payload["products"][1]["image"] == "https://shop.example.com/sticker.jpg"
    assert woocommerce.count("GET", "/wp-json/wc/v3/products/{id}") == 2  # the failed one, then once for good
