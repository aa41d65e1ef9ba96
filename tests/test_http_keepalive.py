"""Keep-alive connections: probed for a server's close before reuse only after a pause (core/pool.py)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import urllib3.connection

from sync_daemon.core import http, pool
from sync_daemon.core.errors import RetryableError


@pytest.fixture
def server():
    """An HTTP/1.1 server; ``close_after`` makes it drop each connection after its answer, unannounced."""
    state = {"connections": set(), "close_after": False}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            state["connections"].add(self.client_address)
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()  # no "Connection: close", even when it is about to close
            self.wfile.write(b"{}")
            self.close_connection = state["close_after"]

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def shutdown_request(self, request):
            super().shutdown_request(request)
            state["closed"].release()  # the socket is closed: its FIN is on the way

    state["closed"] = threading.Semaphore(0)
    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_port}/orders"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def probes(monkeypatch):
    """Counts urllib3's liveness probes (the zero-timeout poll of a pooled connection)."""
    calls = []
    real = urllib3.connection.wait_for_read

    def counting(sock, timeout=None):
        calls.append(timeout)
        return real(sock, timeout=timeout)

    monkeypatch.setattr(urllib3.connection, "wait_for_read", counting)
    return calls


def post(session, url):
    return http.send(session, "POST", url, platform="Test", json={"n": 1})


def test_back_to_back_requests_reuse_the_connection_without_a_probe(server, probes):
    session = http.build_session()
    for _ in range(4):
        assert post(session, server["url"]).status_code == 201
    assert len(server["connections"]) == 1  # one keep-alive connection for all four
    assert probes == []  # each reuse came moments after the last answer
    session.close()


def test_after_a_pause_a_connection_is_probed_and_a_dropped_one_replaced(server, probes, monkeypatch):
    monkeypatch.setattr(pool, "VALIDATE_AFTER_IDLE_SECONDS", 0.0)  # every reuse counts as after a pause
    server["close_after"] = True
    session = http.build_session()
    for _ in range(3):
        assert post(session, server["url"]).status_code == 201
        assert server["closed"].acquire(timeout=5)  # the server has dropped it before the next request
    assert probes  # each reuse was checked …
    assert len(server["connections"]) == 3  # … and each connection the server had dropped replaced
    session.close()


def test_a_connection_dropped_unannounced_within_the_pause_fails_as_a_retry(server, monkeypatch):
    monkeypatch.setattr(pool, "VALIDATE_AFTER_IDLE_SECONDS", 3600.0)
    server["close_after"] = True
    session = http.build_session()
    assert post(session, server["url"]).status_code == 201
    with pytest.raises(RetryableError):  # the ledger retries it: nothing lost, nothing doubled
        post(session, server["url"])
    assert post(session, server["url"]).status_code == 201  # the broken connection was not kept
    session.close()
