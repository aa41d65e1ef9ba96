"""A payload taken from the ledger: read as a mapping when a field is needed, sent as its stored text."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync_daemon.core import http
from sync_daemon.core.payload import StoredPayload
from sync_daemon.ledger.encoding import canonical_json

PAYLOAD = {"external_order_id": "wc-17", "customer": {"name": "রহিম উদ্দিন", "phone": "01712345678"}, "total": 1250.5}


def test_it_reads_as_the_object_it_encodes_and_decodes_only_when_read():
    stored = StoredPayload(canonical_json(PAYLOAD))
    assert stored._fields is None  # nothing decoded yet
    assert stored == PAYLOAD and PAYLOAD.__eq__(stored) is NotImplemented  # dict defers to the Mapping
    assert stored["customer"]["name"] == "রহিম উদ্দিন" and stored.get("missing") is None
    assert sorted(stored) == sorted(PAYLOAD) and len(stored) == len(PAYLOAD) and dict(stored.items()) == PAYLOAD


def test_a_text_that_is_not_an_object_is_refused_when_read():
    with pytest.raises(TypeError, match="JSON object"):
        StoredPayload("[1, 2]")["id"]


@pytest.fixture
def echo_server():
    """A plain HTTP server that keeps each request's headers and body."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(({name.lower(): value for name, value in self.headers.items()}, body))
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/orders", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("headers", [None, {"Origin": "https://shop.example.com"}])
def test_it_goes_out_as_its_stored_text_without_being_decoded(echo_server, headers):
    url, seen = echo_server
    session = http.build_session()
    text = canonical_json(PAYLOAD)
    for _ in range(2):  # the second request copies the prepared template of the first
        stored = StoredPayload(text)
        response = http.send(session, "POST", url, platform="GoTrack", json=stored, headers=headers)
        assert response.status_code == 201
        assert stored._fields is None  # sent without a decode
    for received_headers, body in seen:
        assert body == text.encode("utf-8")
        assert received_headers["content-type"] == "application/json"
        assert json.loads(body) == PAYLOAD
        if headers:
            assert received_headers["origin"] == headers["Origin"]
    session.close()


def test_a_content_type_the_caller_names_is_kept(echo_server):
    url, seen = echo_server
    session = http.build_session()
    stored = StoredPayload(canonical_json(PAYLOAD))
    http.send(session, "POST", url, platform="GoTrack", json=stored,
              headers={"content-type": "application/json; charset=utf-8"})
    ((received_headers, _),) = seen
    assert received_headers["content-type"] == "application/json; charset=utf-8"
    session.close()
