"""http.send's lean path: a prepared request copied per address, a host's pool looked up once.

Both must build exactly what requests builds, request after request, and step aside whenever two
requests to the same address could differ (cookies, a query, changed session headers).
"""

import pytest
import requests
from requests.auth import HTTPBasicAuth

from sync_daemon.core import http
from sync_daemon.core.pool import PooledAdapter

URL = "https://platform.example.com/api/v1/orders"


@pytest.fixture
def session(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    built = http.build_session(headers={"Content-Type": "application/json", "X-API-KEY": "k1"},
                               auth=HTTPBasicAuth("fbc_key", "secret"))
    yield built
    built.close()


def as_requests_would(session, method, url, **kwargs):
    return session.prepare_request(requests.Request(method, url, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"id": "17", "total": 120000}},
        {"json": {"id": "18", "note": "a longer body: the length must follow it"}},
        {"headers": {"Origin": "https://shop.example.com"}, "json": {"id": "19"}},
        {"headers": {"X-API-KEY": None}, "data": "a=1"},
        {},
    ],
)
def test_each_copy_equals_a_whole_preparation(session, kwargs):
    for _ in range(3):  # the first prepares the template, the others copy it
        ours = http._prepare(session, "POST", URL, **kwargs)
        theirs = as_requests_would(session, "POST", URL, **kwargs)
        assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
        assert dict(ours.headers) == dict(theirs.headers)


def test_copies_share_nothing_a_request_can_change(session):
    first = http._prepare(session, "POST", URL, json={"id": "1"})
    first.headers["X-Extra"] = "only on this one"
    second = http._prepare(session, "POST", URL, json={"id": "22"})
    assert "X-Extra" not in second.headers and second.headers["Content-Length"] == str(len(second.body))
    assert first._cookies is not second._cookies


def test_a_change_of_session_headers_or_auth_is_never_missed(session):
    http._prepare(session, "POST", URL, json={})
    session.headers["X-API-KEY"] = "k2"
    session.auth = HTTPBasicAuth("fbc_key", "rotated")
    ours = http._prepare(session, "POST", URL, json={})
    assert dict(ours.headers) == dict(as_requests_would(session, "POST", URL, json={}).headers)


def test_cookies_or_a_query_take_the_whole_preparation(session):
    http._prepare(session, "GET", URL)
    session.cookies.set("sid", "abc", domain="platform.example.com")
    assert http._prepare(session, "GET", URL).headers["Cookie"] == "sid=abc"
    assert http._prepare(session, "GET", URL + "?page=2").url.endswith("?page=2")


def test_a_host_pool_is_looked_up_once_and_again_once_closed(session, gotrack):
    assert isinstance(session.get_adapter(gotrack.endpoint), PooledAdapter)
    adapter = session.get_adapter(gotrack.endpoint)
    for n in range(3):
        assert http.send(session, "POST", gotrack.endpoint, platform="GoTrack", json={"n": n}).status_code == 401
    (pool,) = adapter._pools.values()
    adapter.poolmanager.clear()  # the manager drops it …
    pool.close()  # … and closes it, as urllib3 1.x does
    assert http.send(session, "POST", gotrack.endpoint, platform="GoTrack", json={}).status_code == 401
    (fresh,) = adapter._pools.values()
    assert fresh is not pool and fresh.pool is not None
