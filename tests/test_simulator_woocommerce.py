"""WooCommerce simulator: OAuth as WC_REST_Authentication does it, wc/v3 orders and their quirks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
import requests
from woocommerce import API
from woocommerce.oauth import OAuth

from sync_daemon.simulators import WooCommerceSimulator
from sync_daemon.simulators.orders import (
    demo_orders,
    fee_line,
    generate_orders,
    line_item,
    make_order,
    recalculate_totals,
)

T0 = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def api(woocommerce):
    return API(woocommerce.url, woocommerce.consumer_key, woocommerce.consumer_secret, version="wc/v3", timeout=10)


def signed_url(
    sim,
    method,
    path,
    params=None,
    *,
    secret=None,
    algorithm="HMAC-SHA1",
    host="127.0.0.1",
    timestamp=None,
    nonce=None,
    key=None,
):
    """An independent one-legged OAuth 1.0a signer (RFC 5849 + WooCommerce's double encoding)."""
    url = f"http://{host}:{sim.port}{path}"
    params = {
        **(params or {}),
        "oauth_consumer_key": key or sim.consumer_key,
        "oauth_timestamp": str(timestamp or int(time.time())),
        "oauth_nonce": nonce or f"n{time.time_ns()}",
        "oauth_signature_method": algorithm,
    }

    def enc(s):
        return quote(str(s), safe="")

    pairs = "%26".join(enc(f"{enc(k)}={enc(v)}") for k, v in sorted(params.items()))
    base_string = f"{method}&{enc(url)}&{pairs}"
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    key_bytes = f"{secret or sim.consumer_secret}&".encode()
    params["oauth_signature"] = base64.b64encode(
        hmac.new(key_bytes, base_string.encode(), digest).digest()
    ).decode()
    return f"{url}?{urlencode(params)}"


# -- authentication --------------------------------------------------------------------------


def test_credentials_shape(woocommerce):
    creds = woocommerce.credentials
    assert creds["consumer_key"].startswith("ck_") and len(creds["consumer_key"]) == 43
    assert creds["consumer_secret"].startswith("cs_") and len(creds["consumer_secret"]) == 43
    int(creds["consumer_key"][3:], 16)
    assert creds["permission"] == "read_write"


def test_official_client_get_with_params_verifies(woocommerce, api):
    woocommerce.add_orders(demo_orders(now=T0))
    r = api.get(
        "orders",
        params={
            "per_page": 5,
            "status": "processing",
            "orderby": "modified",
            "order": "asc",
            "modified_after": "2025-01-01T00:00:00+06:00",
            "dates_are_gmt": "true",
        },
    )
    assert r.status_code == 200, r.text
    assert len(r.json()) == 5
    assert r.headers["X-WP-Total"] == "12"


def test_official_client_put_and_post_with_json_body_verify(woocommerce, api):
    woocommerce.add_orders([make_order(7, created=T0)])
    r = api.put("orders/7", {"status": "completed", "meta_data": [{"key": "gotrack_id", "value": "301"}]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    assert {"key": "gotrack_id", "value": "301"}.items() <= r.json()["meta_data"][-1].items()
    r = api.post("orders/7/notes", {"note": "Sent to GoTrack (#301)"})
    assert r.status_code == 201, r.text
    assert r.json()["note"] == "Sent to GoTrack (#301)" and r.json()["author"] == "WooCommerce"


def test_hmac_sha1_and_unicode_params_verify(woocommerce):
    r = requests.get(signed_url(woocommerce, "GET", "/wp-json/wc/v3/orders", {"search": "রহিম ~+/", "per_page": "3"}))
    assert r.status_code == 200, r.text
    r = requests.get(signed_url(woocommerce, "GET", "/wp-json/wc/v3/orders", algorithm="HMAC-SHA256"))
    assert r.status_code == 200, r.text


def test_oauth_in_authorization_header_verifies(woocommerce):
    url = signed_url(woocommerce, "GET", "/wp-json/wc/v3/orders")
    base_url, _, query = url.partition("?")
    header = "OAuth " + ", ".join(f'{k}="{v}"' for k, v in (p.split("=", 1) for p in query.split("&")))
    assert requests.get(base_url, headers={"Authorization": header}).status_code == 200


def auth_error(response):
    assert response.status_code == 401
    return response.json()["message"]


def test_basic_auth_and_query_keys_over_http_are_ignored(woocommerce):
    r = requests.get(
        f"{woocommerce.url}/wp-json/wc/v3/orders", auth=(woocommerce.consumer_key, woocommerce.consumer_secret)
    )
    assert r.status_code == 401
    assert r.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    r = requests.get(
        f"{woocommerce.url}/wp-json/wc/v3/orders",
        params={"consumer_key": woocommerce.consumer_key, "consumer_secret": woocommerce.consumer_secret},
    )
    assert r.json()["code"] == "woocommerce_rest_cannot_view"


def test_wrong_secret_unknown_key_and_wrong_host(woocommerce):
    path = "/wp-json/wc/v3/orders"
    r = requests.get(signed_url(woocommerce, "GET", path, secret="cs_" + "0" * 40))
    assert r.json() == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Invalid signature - provided signature does not match.",
        "data": {"status": 401},
    }
    assert (
        auth_error(requests.get(signed_url(woocommerce, "GET", path, key="ck_" + "0" * 40)))
        == "Consumer key is invalid."
    )
    # Signed for "localhost" but the site is configured as 127.0.0.1: real WooCommerce rejects it.
    bad_host = signed_url(woocommerce, "GET", path, host="localhost").replace("localhost", "127.0.0.1", 1)
    assert auth_error(requests.get(bad_host)) == "Invalid signature - provided signature does not match."
    assert auth_error(requests.get(signed_url(woocommerce, "GET", path, algorithm="PLAINTEXT"))).startswith(
        "Invalid signature - signature method"
    )


def test_official_client_with_localhost_url_fails(woocommerce):
    client = API(
        woocommerce.url.replace("127.0.0.1", "localhost"),
        woocommerce.consumer_key,
        woocommerce.consumer_secret,
        version="wc/v3",
    )
    assert auth_error(client.get("orders")) == "Invalid signature - provided signature does not match."


def test_replayed_nonce_and_stale_timestamp(woocommerce):
    url = OAuth(
        f"{woocommerce.url}/wp-json/wc/v3/orders",
        woocommerce.consumer_key,
        woocommerce.consumer_secret,
        version="wc/v3",
        method="GET",
    ).get_oauth_url()
    assert requests.get(url).status_code == 200
    assert auth_error(requests.get(url)) == "Invalid nonce - nonce has already been used."
    stale = signed_url(woocommerce, "GET", "/wp-json/wc/v3/orders", timestamp=int(time.time()) - 16 * 60)
    assert auth_error(requests.get(stale)) == "Invalid timestamp."


def test_missing_oauth_parameter(woocommerce):
    r = requests.get(f"{woocommerce.url}/wp-json/wc/v3/orders", params={"oauth_consumer_key": woocommerce.consumer_key})
    assert r.status_code == 401
    assert r.json()["code"] == "woocommerce_rest_authentication_missing_parameter"


def test_read_only_key_cannot_write():
    with WooCommerceSimulator(permission="read") as sim:
        sim.add_orders([make_order(1, created=T0)])
        client = API(sim.url, sim.consumer_key, sim.consumer_secret, version="wc/v3")
        assert client.get("orders/1").status_code == 200
        r = client.put("orders/1", {"status": "completed"})
        assert r.status_code == 401
        assert r.json()["message"] == "The API key provided does not have write permissions."
        assert sim.get_order(1)["status"] == "processing"


# -- listing orders ----------------------------------------------------------------------------


def test_per_page_bounds_and_bad_params(woocommerce, api):
    r = api.get("orders", params={"per_page": 101})
    assert r.status_code == 400
    assert r.json() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {
            "status": 400,
            "params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
        },
    }
    assert api.get("orders", params={"per_page": 0}).status_code == 400
    r = api.get("orders", params={"orderby": "total"})
    assert r.status_code == 400 and "orderby" in r.json()["data"]["params"]
    assert api.get("orders", params={"order": "sideways"}).status_code == 400
    assert api.get("orders", params={"modified_after": "yesterday"}).status_code == 400
    assert api.get("orders", params={"utterly_unknown": "x"}).status_code == 200


def test_pagination_headers_and_default_order(woocommerce, api):
    woocommerce.add_orders(generate_orders(25, seed=3, start_id=1, now=T0))
    r = api.get("orders", params={"per_page": 10, "page": 3})
    assert r.headers["X-WP-Total"] == "25" and r.headers["X-WP-TotalPages"] == "3"
    assert len(r.json()) == 5
    assert 'rel="prev"' in r.headers["Link"] and 'rel="next"' not in r.headers["Link"]
    first = api.get("orders").json()
    assert len(first) == 10
    assert [o["id"] for o in first] == list(range(25, 15, -1))  # newest first by date
    assert api.get("orders", params={"page": 9}).json() == []


def test_status_filter(woocommerce, api):
    woocommerce.add_orders(
        [
            make_order(1, created=T0, status="processing"),
            make_order(2, created=T0, status="on-hold"),
            make_order(3, created=T0, status="trash"),
        ]
    )
    assert [o["id"] for o in api.get("orders", params={"status": "on-hold"}).json()] == [2]
    assert sorted(o["id"] for o in api.get("orders", params={"status": "processing,on-hold"}).json()) == [
        1,
        2,
    ]
    assert sorted(o["id"] for o in api.get("orders").json()) == [1, 2]


def ids(api, **params):
    r = api.get("orders", params={"orderby": "id", "order": "asc", **params})
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()]


def test_modified_after_is_strict_and_the_z_shift_quirk(woocommerce, api):
    woocommerce.add_orders([make_order(1, created=T0), make_order(2, created=T0 + timedelta(seconds=1))])
    # Order 1 was modified at 10:00:00 UTC, 16:00:00 store time (+06:00).
    assert ids(api, modified_after="2025-03-01T10:00:00", dates_are_gmt="true") == [2]
    assert ids(api, modified_after="2025-03-01T09:59:59", dates_are_gmt="true") == [1, 2]
    # Without dates_are_gmt a plain timestamp is store-local time.
    assert ids(api, modified_after="2025-03-01T16:00:00") == [2]
    assert ids(api, modified_after="2025-03-01T15:59:59") == [1, 2]
    # A zoned timestamp without dates_are_gmt is converted correctly.
    assert ids(api, modified_after="2025-03-01T09:59:59Z") == [1, 2]
    # The quirk: "Z" together with dates_are_gmt=true is read as store time: the window moves 6 hours.
    assert ids(api, modified_after="2025-03-01T04:00:00Z", dates_are_gmt="true") == [2]
    assert ids(api, modified_after="2025-03-01T03:59:59Z", dates_are_gmt="true") == [1, 2]
    assert ids(api, modified_before="2025-03-01T10:00:01", dates_are_gmt="true") == [1]
    assert ids(api, after="2025-03-01T10:00:00", dates_are_gmt="true") == [2]


def test_orderby_modified_orders_ties_differently_per_page_and_alike_on_a_repeat(woocommerce, api):
    tied = [make_order(i, created=T0) for i in range(2, 22)]
    woocommerce.add_orders([*tied, make_order(1, created=T0 - timedelta(1))])
    woocommerce.tie_seed = 7

    def listing(per_page, page=1):
        params = {"orderby": "modified", "order": "asc", "per_page": per_page, "page": page}
        return [o["id"] for o in api.get("orders", params=params).json()]

    whole = [listing(size) for size in (21, 22, 30)]
    assert all(ids[0] == 1 and sorted(ids[1:]) == list(range(2, 22)) for ids in whole)
    assert len({tuple(ids) for ids in whole}) > 1  # no tie-breaker: the database's order varies
    assert listing(30) == listing(30)  # but a query asked again gets the same answer
    # Paged with LIMIT/OFFSET, the tied rows overlap between pages and some are on none.
    paged = [order_id for page in range(1, 6) for order_id in listing(5, page)]
    assert len(paged) == 21 and len(set(paged)) < 21


def test_one_second_by_id_is_exact_with_offset(woocommerce, api):
    woocommerce.add_orders([make_order(i, created=T0) for i in range(1, 13)] + [
        make_order(20, created=T0 - timedelta(seconds=1)), make_order(21, created=T0 + timedelta(seconds=1))])
    second = {"modified_after": "2025-03-01T09:59:59", "modified_before": "2025-03-01T10:00:01",
              "dates_are_gmt": "true", "orderby": "id", "order": "asc", "per_page": 5}
    assert ids(api, **second) == [1, 2, 3, 4, 5]
    assert ids(api, **second, offset=4) == [5, 6, 7, 8, 9]  # offset wins over page, as in WP_Query
    assert ids(api, **second, offset=4, page=3) == [5, 6, 7, 8, 9]
    assert ids(api, **second, offset=12) == []
    assert api.get("orders", params={**second, "offset": -1}).status_code == 400


# -- single orders, updates and notes ------------------------------------------------------------


def test_get_unknown_is_404_and_put_unknown_is_400(woocommerce, api):
    r = api.get("orders/999")
    assert r.status_code == 404
    assert r.json() == {
        "code": "woocommerce_rest_shop_order_invalid_id",
        "message": "Invalid ID.",
        "data": {"status": 404},
    }
    r = api.put("orders/999", {"status": "completed"})
    assert r.status_code == 400
    assert r.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_writes_bump_date_modified_and_are_recorded(woocommerce, api):
    woocommerce.add_orders([make_order(1, created=T0)])
    r = api.put("orders/1", {"meta_data": [{"key": "_sync", "value": "a"}], "customer_note": "call first"})
    bumped = r.json()["date_modified_gmt"]
    assert bumped > "2025-03-01T10:00:00"
    assert datetime.fromisoformat(bumped).replace(tzinfo=UTC) >= datetime.now(UTC) - timedelta(seconds=5)
    local = datetime.fromisoformat(r.json()["date_modified"])
    assert local - datetime.fromisoformat(bumped) == timedelta(hours=6)
    api.put("orders/1", {"meta_data": [{"key": "_sync", "value": "b"}], "status": "completed"})
    meta = [m for m in woocommerce.get_order(1)["meta_data"] if m["key"] == "_sync"]
    assert len(meta) == 1 and meta[0]["value"] == "b"
    api.post("orders/1/notes", {"note": "hello", "customer_note": True})
    kinds = [(w["kind"], w.get("value") or w.get("to") or w.get("note")) for w in woocommerce.writes()]
    assert kinds == [("meta", "a"), ("meta", "b"), ("status", "completed"), ("note", "hello")]
    notes = api.get("orders/1/notes").json()
    assert [n["note"] for n in notes] == ["hello", "Order status changed from Processing to Completed."]
    assert woocommerce.get_order(1)["date_completed_gmt"] is not None


SAVES = {  # edit → (bumps date_modified on posts storage, under HPOS): shared/design/woocommerce-facts.md
    "shipping address": (lambda api, sim: api.put("orders/1", {"shipping": {"address_1": "Road 9"}}), False, True),
    "billing phone": (lambda api, sim: api.put("orders/1", {"billing": {"phone": "01812345678"}}), False, True),
    "meta only": (lambda api, sim: api.put("orders/1", {"meta_data": [{"key": "gift", "value": "y"}]}), False, True),
    "customer note": (lambda api, sim: api.put("orders/1", {"customer_note": "ring twice"}), True, True),
    "status change": (lambda api, sim: api.put("orders/1", {"status": "completed"}), True, True),
    "same status again": (lambda api, sim: api.put("orders/1", {"status": "processing"}), False, True),
    "empty PUT": (lambda api, sim: api.put("orders/1", {}), False, True),
    "order note": (lambda api, sim: api.post("orders/1/notes", {"note": "packed"}), False, False),
    "plugin meta save": (lambda api, sim: sim.edit_order(1, via="save", meta_data=[{"key": "k", "value": 1}]),
                         False, True),
    "plugin status save": (lambda api, sim: sim.edit_order(1, via="save", status="on-hold"), True, True),
    "wp-admin address": (lambda api, sim: sim.edit_order(1, shipping={"address_1": "Road 9"}), True, True),
}


@pytest.mark.parametrize("storage_mode", ["posts", "hpos"])
@pytest.mark.parametrize("edit", SAVES)
def test_what_bumps_date_modified_per_storage(woocommerce, api, storage_mode, edit):
    woocommerce.add_orders([make_order(1, created=T0)])
    change, on_posts, on_hpos = SAVES[edit]
    change(api, woocommerce)
    bumped = woocommerce.get_order(1)["date_modified_gmt"] != "2025-03-01T10:00:00"
    assert bumped == (on_hpos if storage_mode == "hpos" else on_posts)


def test_storage_mode_is_checked():
    with pytest.raises(ValueError, match="storage"):
        WooCommerceSimulator(storage="custom-tables")


def test_notes_errors(woocommerce, api):
    assert api.get("orders/5/notes").status_code == 404
    woocommerce.add_orders([make_order(5, created=T0)])
    r = api.post("orders/5/notes", {"customer_note": False})
    assert r.status_code == 400 and r.json()["code"] == "rest_missing_callback_param"
    assert api.post("orders/6/notes", {"note": "x"}).status_code == 400


def test_anonymous_requests_per_route(woocommerce):
    woocommerce.add_orders([make_order(1, created=T0)])
    assert requests.get(f"{woocommerce.url}/wp-json/wc/v3/orders/1").json()["code"] == "woocommerce_rest_cannot_view"
    r = requests.put(f"{woocommerce.url}/wp-json/wc/v3/orders/1", json={"status": "completed"})
    assert (r.status_code, r.json()["code"]) == (401, "woocommerce_rest_cannot_edit")
    r = requests.post(f"{woocommerce.url}/wp-json/wc/v3/orders/1/notes", json={"note": "x"})
    assert (r.status_code, r.json()["code"]) == (401, "woocommerce_rest_cannot_create")


def test_invalid_json_body(woocommerce):
    woocommerce.add_orders([make_order(1, created=T0)])
    r = requests.put(
        signed_url(woocommerce, "PUT", "/wp-json/wc/v3/orders/1"),
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["code"]) == (400, "rest_invalid_json")


# -- switches and admin --------------------------------------------------------------------------


def test_rest_disabled_and_html_mode(woocommerce, api):
    woocommerce.update_settings(rest_disabled=True)
    r = api.get("orders")
    assert r.status_code == 404
    assert r.json() == {
        "code": "rest_no_route",
        "message": "No route was found matching the URL and request method.",
        "data": {"status": 404},
    }
    requests.put(f"{woocommerce.url}/__admin__/settings", json={"rest_disabled": False, "html_mode": True})
    r = api.get("orders")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    woocommerce.update_settings(html_mode=False)
    assert api.get("orders").status_code == 200


def test_pages_announce_the_rest_api_and_rest_route_answers_on_any_path(woocommerce, api):
    woocommerce.add_orders([make_order(1, created=T0)])
    # Every page, the 404 page included, carries WordPress's Link header to the REST API root.
    page = requests.get(f"{woocommerce.url}/shop/", timeout=5)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    assert page.links["https://api.w.org/"]["url"] == f"{woocommerce.url}/wp-json/"
    # A wrong path: /shop/wp-json/ is a 404 page, while ?rest_route= reaches the API from any path.
    assert requests.get(f"{woocommerce.url}/shop/wp-json/wc/v3", timeout=5).status_code == 404
    for path in ("/", "/shop/", "/shop/wp-json/wc/v3/orders"):
        index = requests.get(f"{woocommerce.url}{path}?rest_route=/wc/v3", timeout=5)
        assert (index.status_code, index.json()["namespace"]) == (200, "wc/v3"), path
    anonymous = requests.get(f"{woocommerce.url}/shop/?rest_route=/wc/v3/orders", timeout=5)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "woocommerce_rest_cannot_view")
    root = requests.get(f"{woocommerce.url}/wp-json/", timeout=5).json()
    assert "wc/v3" in root["namespaces"] and root["home"] == woocommerce.url
    assert woocommerce.stats()["by_route"]["GET /wp-json/wc/v3/orders"] == 1  # counted as the route it named


def test_plain_permalinks_leave_only_rest_route(woocommerce, api):
    woocommerce.add_orders([make_order(1, created=T0)])
    assert woocommerce.update_settings(plain_permalinks=True)["plain_permalinks"] is True
    refused = api.get("orders")
    assert refused.status_code == 404 and refused.headers["Content-Type"].startswith("text/html")
    assert refused.links["https://api.w.org/"]["url"] == f"{woocommerce.url}/?rest_route=/"
    assert requests.get(f"{woocommerce.url}/?rest_route=/wc/v3", timeout=5).json()["namespace"] == "wc/v3"
    requests.put(f"{woocommerce.url}/__admin__/settings", json={"plain_permalinks": False}, timeout=5)
    assert api.get("orders").status_code == 200


def test_unknown_route_is_rest_no_route(woocommerce, api):
    assert api.get("products/1/whatever").json()["code"] == "rest_no_route"
    assert api.delete("orders/1/notes").json()["code"] == "rest_no_route"


def test_admin_http_routes(woocommerce, api):
    r = requests.post(f"{woocommerce.url}/__admin__/orders", json={"generate": 3, "seed": 9})
    assert r.status_code == 201 and r.json()["ids"] == [1, 2, 3]
    r = requests.post(f"{woocommerce.url}/__admin__/orders", json=[make_order(50, created=T0)])
    assert r.json()["ids"] == [50]
    r = requests.patch(f"{woocommerce.url}/__admin__/orders/50", json={"customer_note": "ring twice"})
    assert r.status_code == 200 and r.json()["customer_note"] == "ring twice"
    assert r.json()["date_modified_gmt"] > "2025-03-01T10:00:00"
    api.post("orders/50/notes", {"note": "n1"})
    got = requests.get(f"{woocommerce.url}/__admin__/orders/50").json()
    assert got["order"]["id"] == 50 and [n["note"] for n in got["notes"]] == ["n1"]
    assert requests.get(f"{woocommerce.url}/__admin__/writes").json()["writes"][0]["kind"] == "note"
    assert requests.get(f"{woocommerce.url}/__admin__/orders/404").status_code == 404


def test_edit_order_sets_explicit_dates_and_recalculates(woocommerce):
    woocommerce.add_orders([make_order(1, created=T0)])
    edited = woocommerce.edit_order(
        1, date_modified_gmt="2025-03-02T00:00:00", line_items=[line_item(9, "Saree", 1000, 1)]
    )
    assert edited["date_modified"] == "2025-03-02T06:00:00"
    assert edited["total"] == "1060.00"


# -- the order factory ---------------------------------------------------------------------------


def check_total(order):
    lines = sum(Decimal(i["total"]) + Decimal(i["total_tax"]) for i in order["line_items"])
    fees = sum(Decimal(f["total"]) + Decimal(f["total_tax"]) for f in order["fee_lines"])
    expected = lines + Decimal(order["shipping_total"]) + Decimal(order["shipping_tax"]) + fees
    assert Decimal(order["total"]) == expected, order["id"]


def test_demo_orders():
    orders = demo_orders(now=T0)
    assert len(orders) == 12 and [o["id"] for o in orders] == list(range(1001, 1013))
    assert demo_orders(now=T0) == orders
    for order in orders:
        check_total(order)
        assert order["currency"] == "BDT" and order["payment_method"] == "cod"
    no_phone = [o for o in orders if not o["billing"]["phone"] and not o["shipping"]["phone"]]
    assert len(no_phone) == 1
    gifts = [o for o in orders if any(i["price"] == 0 for i in o["line_items"])]
    assert len(gifts) == 1
    assert any(i["name"] == "Free gift: Tote bag" for i in gifts[0]["line_items"])
    assert any(i["price"] > 0 for i in gifts[0]["line_items"])
    names = {o["billing"]["first_name"] + " " + o["billing"]["last_name"] for o in orders}
    assert {"রহিম খান", "Zoë Ångström"} <= names
    assert any(o["fee_lines"] for o in orders) and any(o["coupon_lines"] for o in orders)
    assert any(o["tax_lines"] for o in orders)
    assert any(len(o["line_items"]) > 1 for o in orders)


def test_generated_orders_are_valid_varied_and_deterministic():
    orders = generate_orders(300, seed=5, start_id=100, now=T0)
    assert generate_orders(300, seed=5, start_id=100, now=T0) == orders
    assert [o["id"] for o in orders] == list(range(100, 400))
    phones = [o["billing"]["phone"] for o in orders]
    assert all(phones)
    assert any(p.startswith("+88") for p in phones) and any(p.startswith("880") for p in phones)
    assert any("-" in p for p in phones) and any(" " in p for p in phones)
    assert any(len(p) == 11 and p.isdigit() for p in phones)
    for order in orders:
        check_total(order)
        assert 1 <= len(order["line_items"]) <= 4
        assert all(
            Decimal(i["total"]) > 0 and isinstance(i["price"], int | float) for i in order["line_items"]
        )
        assert order["shipping_total"] in ("60.00", "120.00")
        assert order["date_created_gmt"] <= "2025-03-01T10:00:00"
    assert any(o["fee_lines"] for o in orders)
    assert {o["billing"]["city"] for o in orders} == {"Dhaka", "Chattogram"}


def test_recalculate_totals_with_fees_and_tax():
    order = make_order(
        1,
        created=T0,
        line_items=[line_item(1, "A", "100.50", 2, tax="10.05")],
        fee_lines=[fee_line(2, "Cash on delivery fee", 20)],
    )
    assert order["total"] == "291.05"  # 201.00 + 10.05 tax + 60 shipping + 20 fee
    order["fee_lines"] = []
    assert recalculate_totals(order)["total"] == "271.05"
    assert order["line_items"][0]["price"] == 100.5


def test_many_orders_page_quickly(woocommerce, api):
    woocommerce.generate_orders(5000, seed=2)
    start = time.monotonic()
    r = api.get("orders", params={"per_page": 100, "orderby": "modified", "order": "asc"})
    assert r.headers["X-WP-Total"] == "5000" and len(r.json()) == 100
    assert time.monotonic() - start < 2
