"""http.send's own request preparation matches what requests.Session would build."""

import pytest
import requests
from requests.auth import HTTPBasicAuth

from sync_daemon.core import http


@pytest.fixture
def session(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    built = http.build_session(headers={"X-API-KEY": "k1", "Origin": "https://shop.example.com"},
                               auth=HTTPBasicAuth("fbc_key", "secret"))
    assert built.trust_env is False
    yield built
    built.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"id": "17", "total": 120000, "name": "Rahim Uddin"}},
        {"params": {"page": 2, "per_page": 100}},
        {"headers": {"accept": "text/plain", "Origin": None}, "data": "a=1"},
        {},
    ],
)
def test_lean_preparation_equals_the_session_merge(session, kwargs):
    url = "https://platform.example.com/api/v1/orders"
    ours = http._prepare(session, "post", url, **kwargs)
    theirs = session.prepare_request(requests.Request("post", url, **kwargs))
    assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
    assert dict(ours.headers) == dict(theirs.headers)
    assert "Origin" not in ours.headers or "headers" not in kwargs
    assert ours.headers["Authorization"].startswith("Basic ")


def test_session_cookies_still_travel(session):
    session.cookies.set("sid", "abc", domain="platform.example.com")
    prepared = http._prepare(session, "GET", "https://platform.example.com/x")
    assert prepared.headers["Cookie"] == "sid=abc"


def test_unknown_options_take_the_ordinary_path(session, monkeypatch):
    calls = []
    monkeypatch.setattr(session, "request", lambda *a, **k: calls.append(k) or "answer")
    assert http.send(session, "GET", "https://platform.example.com/x", platform="test", files={"f": b"1"}) == "answer"
    assert calls and calls[0]["files"] == {"f": b"1"}
