"""OrderRepo simulator: key before origin before validation, track/update/read, events, switches."""

from __future__ import annotations

import copy

import pytest
import requests

from sync_daemon.simulators import OrderRepoSimulator

ORIGIN = "https://shop.example.com"
ORDER = {
    "id": "order-100234",
    "total": 99000,
    "currency": "RUB",
    "username": "john_doe",
    "email": "john@example.com",
    "phone": "+998901112233",
    "data": [{"name": "Имя", "value": "John Doe"}, {"name": "Телефон", "value": "+998901112233"}],
    "products": [
        {"name": "Sneakers X", "price": 99000, "count": 1, "image": "https://example.com/images/x.jpg"}
    ],
}


@pytest.fixture
def repo():
    with OrderRepoSimulator(events={"order_created": True, "old_event": False}) as sim:
        yield sim


def call(sim, path, body=None, *, key=True, origin=ORIGIN, method="POST", params=None):
    headers = {}
    if key:
        headers["X-API-KEY"] = sim.api_key if key is True else key
    if origin:
        headers["Origin"] = origin
    return requests.request(method, sim.url + path, json=body, headers=headers, params=params)


def track(sim, body=None, **kwargs):
    return call(sim, "/api/orders/track", ORDER if body is None else body, **kwargs)


def test_track_returns_the_order_as_read(repo):
    r = track(repo)
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["external_id"] == "order-100234" and data["status"] == "new"
    assert data["total"] == "99000" and data["currency"] == "RUB"
    assert data["email"] == "john@example.com" and data["phone"] == "+998901112233"
    assert data["created_at"].endswith("+00:00") and data["closed_at"] is None
    minimal = track(repo, {"id": "m-1", "total": 0}).json()["data"]
    assert minimal["currency"] == "RUB" and minimal["email"] is None


def test_key_is_checked_before_origin_and_validation(repo):
    r = track(repo, {"junk": True}, key=False, origin=None)
    assert r.status_code == 401 and r.json() == {"message": "API key missing"}
    r = track(repo, {"junk": True}, key="wrong", origin=None)
    assert r.status_code == 401 and r.json() == {"message": "Invalid API key"}
    repo.update_settings(api_key_active=False)
    assert track(repo).json() == {"message": "Invalid API key"}


def test_origin_is_checked_before_validation(repo):
    r = track(repo, {"junk": True}, origin=None)
    assert r.status_code == 403 and r.json() == {"message": "Invalid Origin header"}
    assert track(repo, origin="not a url").json() == {"message": "Invalid Origin header"}
    r = track(repo, {"junk": True}, origin="https://evil.example.com")
    assert r.status_code == 403 and r.json() == {"message": "Domain not allowed"}
    assert track(repo, origin="http://shop.example.com").status_code == 403
    assert track(repo, origin="https://SHOP.example.com:443").status_code == 201


def test_reads_need_no_origin(repo):
    track(repo)
    r = call(repo, "/api/external/orders/order-100234", method="GET", origin=None)
    assert r.status_code == 200 and r.json()["data"]["external_id"] == "order-100234"
    assert call(repo, "/api/external/orders", method="GET", origin=None, key=False).status_code == 401


def test_duplicate_id_is_422(repo):
    track(repo)
    r = track(repo)
    assert r.status_code == 422
    assert r.json() == {"message": "Validation error", "errors": {"id": ["The id has already been taken."]}}
    assert repo.order("order-100234")["track_requests"] == 2


def changed(**changes):
    body = copy.deepcopy(ORDER)
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    "body, field",
    [
        (changed(id=...), "id"),
        (changed(id=""), "id"),
        (changed(id=123), "id"),
        (changed(id="x" * 192), "id"),
        (changed(total=...), "total"),
        (changed(total=990.5), "total"),
        (changed(total=990.0), "total"),
        (changed(total="99000"), "total"),
        (changed(total=True), "total"),
        (changed(total=-1), "total"),
        (changed(currency="usd"), "currency"),
        (changed(currency="EURO"), "currency"),
        (changed(email="not-an-email"), "email"),
        (changed(phone=998901112233), "phone"),
        (changed(username=["john"]), "username"),
        (changed(products={"name": "x"}), "products"),
        (
            changed(products=[{"name": "", "price": 1, "count": 1, "image": "https://e.com/a.jpg"}]),
            "products.0.name",
        ),
        (
            changed(products=[{"name": "A", "price": 1.5, "count": 1, "image": "https://e.com/a.jpg"}]),
            "products.0.price",
        ),
        (
            changed(products=[{"name": "A", "price": -1, "count": 1, "image": "https://e.com/a.jpg"}]),
            "products.0.price",
        ),
        (
            changed(products=[{"name": "A", "price": 1, "count": 0, "image": "https://e.com/a.jpg"}]),
            "products.0.count",
        ),
        (
            changed(products=[{"name": "A", "price": 1, "count": 1, "image": "/img/a.jpg"}]),
            "products.0.image",
        ),
        (changed(products=[{"name": "A", "price": 1, "count": 1}]), "products.0.image"),
        (changed(data=[{"name": "Phone", "value": 998}]), "data.0.value"),
        (changed(data=[{"value": "x"}]), "data.0.name"),
        (changed(data="Phone"), "data"),
    ],
)
def test_validation_errors(repo, body, field):
    r = track(repo, body)
    assert r.status_code == 422, r.text
    assert r.json()["message"] == "Validation error"
    assert field in r.json()["errors"]
    assert repo.orders() == []


def test_non_object_body_is_invalid_payload(repo):
    r = requests.post(
        repo.url + "/api/orders/track",
        data=b"[1]",
        headers={"X-API-KEY": repo.api_key, "Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json() == {"message": "Invalid data payload"}


def test_update(repo):
    r = call(repo, "/api/orders/update", changed(id="nope"))
    assert r.status_code == 404 and r.json() == {"message": "Order not found"}
    created = track(repo).json()["data"]
    r = call(repo, "/api/orders/update", changed(total=120000, email=..., status="done"))
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["total"] == "120000" and data["email"] is None
    assert data["status"] == "done" and data["closed_at"] is not None
    assert data["created_at"] == created["created_at"]
    assert call(repo, "/api/orders/update", changed(total="x")).status_code == 422
    assert call(repo, "/api/orders/update", changed(status="lost")).status_code == 422
    stored = repo.order("order-100234")
    assert stored["payload"]["total"] == 120000 and len(stored["payloads"]) == 2
    assert (stored["track_requests"], stored["update_requests"]) == (1, 3)


def test_monthly_limit_blocks_track_before_validation(repo):
    track(repo)
    requests.put(f"{repo.url}/__admin__/settings", json={"monthly_limit_reached": True})
    r = track(repo, {"junk": True})
    assert r.status_code == 402 and r.json() == {"message": "Monthly order limit reached for this account."}
    assert call(repo, "/api/orders/update", ORDER).status_code == 200
    assert track(repo, {"junk": True}, origin="https://evil.example.com").status_code == 403
    repo.update_settings(monthly_limit_reached=False)
    assert track(repo, changed(id="o-2")).status_code == 201


def test_list_paging_and_filters(repo):
    for i in range(7):
        track(repo, changed(id=f"o-{i}"))
    repo.set_order_status("o-3", "done")
    r = call(repo, "/api/external/orders", method="GET", params={"per_page": 3, "page": 2})
    body = r.json()
    assert [o["external_id"] for o in body["data"]] == ["o-3", "o-2", "o-1"]
    assert body["meta"] == {"current_page": 2, "per_page": 3, "total": 7, "last_page": 3}
    done = call(repo, "/api/external/orders", method="GET", params={"status": "done"}).json()
    assert [o["external_id"] for o in done["data"]] == ["o-3"] and done["meta"]["per_page"] == 50
    for params in ({"per_page": 0}, {"per_page": 101}, {"per_page": "ten"}, {"page": 0}, {"status": "open"}):
        r = call(repo, "/api/external/orders", method="GET", params=params)
        assert r.status_code == 422, params
        assert set(r.json()["errors"]) == set(params)
    empty = call(repo, "/api/external/orders", method="GET", params={"page": 5, "per_page": 3}).json()
    assert empty["data"] == [] and empty["meta"]["last_page"] == 3


def test_single_order(repo):
    assert call(repo, "/api/external/orders/missing", method="GET").json() == {"message": "Order not found"}
    track(repo, changed(id="a/b c"))
    r = call(repo, "/api/external/orders/a%2Fb%20c", method="GET")
    assert r.status_code == 200 and r.json()["data"]["external_id"] == "a/b c"


def test_admin_status_sets_and_clears_closed_at(repo):
    track(repo)
    r = requests.put(f"{repo.url}/__admin__/orders/order-100234/status", json={"status": "cancelled"})
    assert r.status_code == 200 and r.json()["data"]["closed_at"] is not None
    assert repo.set_order_status("order-100234", "processing")["closed_at"] is None
    assert (
        requests.put(f"{repo.url}/__admin__/orders/none/status", json={"status": "done"}).status_code == 404
    )
    assert (
        requests.put(f"{repo.url}/__admin__/orders/order-100234/status", json={"status": "x"}).status_code
        == 400
    )


def test_events(repo):
    event = {"event": "order_created", "data": [{"name": "Имя", "value": "Ruslan"}]}
    r = call(repo, "/api/events/track", event)
    assert r.status_code == 200 and r.json() == {"success": True}
    r = call(repo, "/api/events/track", {**event, "event": "nope"})
    assert r.status_code == 401 and r.json() == {"message": "Invalid event key"}
    r = call(repo, "/api/events/track", {**event, "event": "old_event"})
    assert r.status_code == 401 and r.json() == {"message": "Event is not active"}
    assert call(repo, "/api/events/track", {"event": "order_created"}).status_code == 422
    assert call(repo, "/api/events/track", {**event, "data": [{"name": "x"}]}).status_code == 422
    assert call(repo, "/api/events/track", event, origin=None).status_code == 403
    events = requests.get(f"{repo.url}/__admin__/events").json()["events"]
    assert [e["data"] for e in events] == [event["data"]]
    repo.update_settings(events={"old_event": True})
    assert call(repo, "/api/events/track", {**event, "event": "old_event"}).status_code == 200


def test_settings_and_origins(repo):
    r = requests.put(f"{repo.url}/__admin__/settings", json={"allowed_origins": ["shop2.example.com"]})
    assert r.json()["allowed_origins"] == ["shop2.example.com"]
    assert track(repo).status_code == 403
    assert track(repo, origin="https://shop2.example.com").status_code == 201
    assert requests.put(f"{repo.url}/__admin__/settings", json={"colour": "red"}).status_code == 400


def test_admin_orders_counts_requests(repo):
    track(repo)
    track(repo)
    call(repo, "/api/orders/update", ORDER)
    track(repo, changed(id="bad", total="x"))
    data = requests.get(f"{repo.url}/__admin__/orders").json()
    assert [o["external_id"] for o in data["orders"]] == ["order-100234"]
    assert data["orders"][0]["payload"] == ORDER
    assert data["requests_by_id"] == {
        "order-100234": {"track": 2, "update": 1},
        "bad": {"track": 1, "update": 0},
    }


def test_unknown_route_and_method(repo):
    assert call(repo, "/api/nope").status_code == 404
    r = call(repo, "/api/orders/track", method="GET")
    assert r.status_code == 405 and "Supported methods: POST" in r.json()["message"]


def test_commit_then_500_and_reset(repo):
    repo.add_fault("commit_then_500", path="/api/orders/track", count=1)
    r = track(repo)
    assert r.status_code == 500 and "message" in r.json()
    assert track(repo).json()["errors"]["id"] == ["The id has already been taken."]
    requests.post(f"{repo.url}/__admin__/reset")
    assert repo.orders() == [] and track(repo).status_code == 201
