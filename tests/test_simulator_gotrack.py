"""GoTrack.bd simulator: Basic auth, 400 vs 422, idempotency, rotation, faults."""

from __future__ import annotations

import copy

import pytest
import requests

ORDER = {
    "external_source": "woocommerce",
    "external_order_id": "1042",
    "customer": {"name": "Rahim Khan", "phone": "01710000000", "address": "House 5, Road 2, Dhaka"},
    "line_items": [{"name": "Red T-Shirt", "quantity": 2, "selling_price": 499}],
    "delivery_charge": 60,
    "cod_charge": 10,
}


def post(sim, body, auth=None, **kwargs):
    return requests.post(sim.endpoint, json=body, auth=auth or (sim.api_key, sim.api_secret), **kwargs)


def with_changes(**changes):
    body = copy.deepcopy(ORDER)
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is ...:
            target.pop(last if not last.isdigit() else int(last))
        else:
            target[int(last) if last.isdigit() else last] = value
    return body


def test_credentials_shape(gotrack):
    assert gotrack.api_key.startswith("fbc_") and len(gotrack.api_key) == 28
    int(gotrack.api_key[4:], 16)
    assert len(gotrack.api_secret) == 40 and gotrack.api_secret.isalnum()
    assert gotrack.endpoint == gotrack.url + "/api/v1/orders"
    assert gotrack.credentials["endpoint"] == gotrack.endpoint


def test_create_matches_the_documented_example(gotrack):
    r = post(gotrack, ORDER)
    assert r.status_code == 201
    body = r.json()
    assert body["ok"] is True and "idempotent" not in body
    assert body["order"]["id"] == 300
    assert body["order"]["status"] == "pending"
    assert body["order"]["total_selling_price"] == 1068.0
    assert body["order"]["created_at"]
    assert post(gotrack, with_changes(external_order_id="1043")).json()["order"]["id"] == 301


def test_idempotent_replay(gotrack):
    first = post(gotrack, ORDER).json()["order"]
    r = post(gotrack, with_changes(delivery_charge=120))
    assert r.status_code == 200
    assert r.json() == {"ok": True, "order": first, "idempotent": True}
    stored = gotrack.order_by_external_id("woocommerce", "1042")
    assert stored["requests"] == 2 and stored["payload"] == ORDER
    assert len(gotrack.orders()) == 1
    # Same id from another source is another order; a missing source means "external".
    assert post(gotrack, with_changes(external_source=...)).status_code == 201
    assert post(gotrack, with_changes(external_source="external")).status_code == 200


def test_orders_without_external_id_are_never_deduplicated(gotrack):
    body = with_changes(external_order_id=...)
    assert post(gotrack, body).status_code == 201
    assert post(gotrack, body).status_code == 201
    assert len(gotrack.orders()) == 2


@pytest.mark.parametrize("auth", [None, ("fbc_wrong", "x"), "Bearer abc", "Basic !!!notbase64", "Basic Zm9v"])
def test_auth_failures_come_before_validation(gotrack, auth):
    headers = {}
    if isinstance(auth, str):
        headers["Authorization"] = auth
    r = requests.post(
        gotrack.endpoint, data=b"not json", headers=headers, auth=auth if isinstance(auth, tuple) else None
    )
    assert r.status_code == 401
    assert r.json() == {"ok": False, "error": {"code": "unauthorized", "message": "Invalid API key/secret."}}


def test_wrong_secret_for_right_key(gotrack):
    assert post(gotrack, ORDER, auth=(gotrack.api_key, gotrack.api_secret[:-1])).status_code == 401


def test_body_must_be_a_json_object(gotrack):
    for data in (b"not json", b"[1, 2]", b'"str"', b"", b'{"a": NaN}'):
        r = requests.post(
            gotrack.endpoint,
            data=data,
            auth=(gotrack.api_key, gotrack.api_secret),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", data


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"customer__phone": ...}, "customer.phone is required"),
        ({"customer__phone": "  "}, "customer.phone is required"),
        ({"customer": ...}, "customer.phone is required"),
        ({"customer": "01710000000"}, "customer.phone is required"),
        ({"line_items": ...}, "line_items is required"),
        ({"line_items": []}, "line_items is required"),
        ({"line_items": None}, "line_items is required"),
    ],
)
def test_missing_required_fields_are_400(gotrack, changes, message):
    r = post(gotrack, with_changes(**changes))
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error": {"code": "bad_request", "message": message}}


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"line_items__0__name": ...}, "line_items.0.name"),
        ({"line_items__0__name": "   "}, "line_items.0.name"),
        ({"line_items__0__name": 12}, "line_items.0.name"),
        ({"line_items__0__quantity": 0}, "line_items.0.quantity"),
        ({"line_items__0__quantity": -1}, "line_items.0.quantity"),
        ({"line_items__0__quantity": 1.5}, "line_items.0.quantity"),
        ({"line_items__0__quantity": "2"}, "line_items.0.quantity"),
        ({"line_items__0__quantity": True}, "line_items.0.quantity"),
        ({"line_items__0__quantity": ...}, "line_items.0.quantity"),
        ({"line_items__0__selling_price": 0}, "line_items.0.selling_price"),
        ({"line_items__0__selling_price": "499"}, "line_items.0.selling_price"),
        ({"line_items__0__selling_price": False}, "line_items.0.selling_price"),
        ({"line_items__0__cost_price": -1}, "line_items.0.cost_price"),
        ({"line_items__0__cost_price": "5"}, "line_items.0.cost_price"),
        ({"delivery_charge": -60}, "delivery_charge"),
        ({"delivery_charge": "60"}, "delivery_charge"),
        ({"cod_charge": -1}, "cod_charge"),
        ({"total_selling_price": -5}, "total_selling_price"),
        ({"total_selling_price": "1068"}, "total_selling_price"),
        ({"customer__phone": 1710000000}, "customer.phone"),
        ({"customer__name": ["Rahim"]}, "customer.name"),
        ({"customer__address": 5}, "customer.address"),
        ({"external_order_id": 1042}, "external_order_id"),
        ({"external_source": 7}, "external_source"),
        ({"line_items": {"name": "x"}}, "line_items"),
        ({"line_items": ["Red T-Shirt"]}, "line_items.0"),
    ],
)
def test_invalid_fields_are_422(gotrack, changes, fragment):
    r = post(gotrack, with_changes(**changes))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"].startswith(fragment)
    assert gotrack.orders() == []


def test_valid_edge_values(gotrack):
    body = with_changes(
        line_items__0__cost_price=0,
        delivery_charge=0,
        cod_charge=0,
        customer__name=None,
        line_items__0__selling_price=0.1,
        line_items__0__quantity=3,
    )
    r = post(gotrack, body)
    assert r.status_code == 201
    assert r.json()["order"]["total_selling_price"] == 0.3  # Decimal, not 0.30000000000000004
    given = post(gotrack, with_changes(external_order_id="2", total_selling_price=999.5))
    assert given.json()["order"]["total_selling_price"] == 999.5


def test_rotation_invalidates_old_credentials(gotrack):
    old = (gotrack.api_key, gotrack.api_secret)
    new = gotrack.rotate_credentials()
    assert new["api_key"] != old[0]
    assert post(gotrack, ORDER, auth=old).status_code == 401
    assert post(gotrack, ORDER).status_code == 201
    rotated = requests.post(f"{gotrack.url}/__admin__/rotate").json()
    assert post(gotrack, ORDER, auth=(new["api_key"], new["api_secret"])).status_code == 401
    assert post(gotrack, ORDER, auth=(rotated["api_key"], rotated["api_secret"])).status_code == 200


def test_other_methods_and_paths(gotrack):
    r = requests.get(gotrack.endpoint, auth=(gotrack.api_key, gotrack.api_secret))
    assert r.status_code == 405 and r.json()["ok"] is False
    r = requests.post(gotrack.url + "/api/v1/products", json={}, auth=(gotrack.api_key, gotrack.api_secret))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_admin_orders_shows_payload_and_request_counts(gotrack):
    post(gotrack, ORDER)
    post(gotrack, ORDER)
    post(gotrack, with_changes(external_order_id="9", line_items=[]))
    data = requests.get(f"{gotrack.url}/__admin__/orders").json()
    assert len(data["orders"]) == 1
    stored = data["orders"][0]
    assert stored["id"] == 300 and stored["payload"] == ORDER and stored["requests"] == 2
    assert stored["external_source"] == "woocommerce" and stored["external_order_id"] == "1042"
    assert data["requests_by_external_id"] == {"woocommerce:1042": 2, "woocommerce:9": 1}


def test_commit_then_500_stores_and_the_retry_is_idempotent(gotrack):
    gotrack.add_fault("commit_then_500", count=1)
    r = post(gotrack, ORDER)
    assert r.status_code == 500
    assert r.json()["ok"] is False
    assert len(gotrack.orders()) == 1
    retry = post(gotrack, ORDER)
    assert retry.status_code == 200 and retry.json()["idempotent"] is True


def test_faults_use_the_error_envelope_and_do_not_store(gotrack):
    gotrack.set_faults(
        [{"kind": "status", "status": 502, "count": 1}, {"kind": "rate_limit", "count": 1, "retry_after": 3}]
    )
    r = post(gotrack, ORDER)
    assert r.status_code == 502 and r.json()["ok"] is False
    r = post(gotrack, ORDER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert gotrack.orders() == []
    gotrack.add_fault("reset", count=1)
    with pytest.raises(requests.ConnectionError):
        post(gotrack, ORDER)
    assert gotrack.orders() == []
    assert post(gotrack, ORDER).status_code == 201


def test_reset_keeps_credentials_and_restarts_ids(gotrack):
    post(gotrack, ORDER)
    requests.post(f"{gotrack.url}/__admin__/reset")
    assert gotrack.orders() == []
    assert post(gotrack, ORDER).json()["order"]["id"] == 300
