"""Shared simulator machinery: HTTP behaviour, request log, fault injection, admin API, __main__."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from sync_daemon.simulators import base
from sync_daemon.simulators.base import Request, Response, SimulatorServer

ROOT = Path(__file__).resolve().parents[1]


class CounterSimulator(SimulatorServer):
    """A minimal platform: POST /items stores an item, GET /items lists them."""

    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.items: list = []
        self.route("POST", "/items", self._add)
        self.route("GET", "/items", lambda r: Response.json(200, {"items": self.items, "q": r.query}))
        self.route("GET", "/items/{item_id:\\d+}", lambda r: Response.json(200, {"id": r.params["item_id"]}))

    def _add(self, request: Request) -> Response:
        self.items.append(request.json())
        return Response.json(201, {"count": len(self.items)})

    def reset_state(self) -> None:
        self.items = []


@pytest.fixture
def sim():
    with CounterSimulator() as s:
        yield s


def test_serves_on_loopback_with_route_params_and_last_wins_query(sim):
    assert sim.url.startswith("http://127.0.0.1:")
    assert requests.get(f"{sim.url}/items/42").json() == {"id": "42"}
    body = requests.get(f"{sim.url}/items?a=1&a=2&b=").json()
    assert body["q"] == {"a": "2", "b": ""}


def test_unknown_path_and_wrong_method(sim):
    assert requests.get(f"{sim.url}/nope").status_code == 404
    assert requests.delete(f"{sim.url}/items").status_code == 405
    assert requests.get(f"{sim.url}/items/abc").status_code == 404


def test_keep_alive_two_requests_on_one_socket(sim):
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        stream = conn.makefile("rb")
        for _ in range(2):
            conn.sendall(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n")
            assert stream.readline().startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            assert json.loads(stream.read(int(headers["content-length"])))["items"] == []


def test_stop_releases_the_port():
    s = CounterSimulator().start()
    url = s.url
    s.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/items", timeout=2)


def test_request_log_and_stats_count_faults_too(sim):
    sim.add_fault("status", status=502, count=1)
    requests.post(f"{sim.url}/items", json={"a": 1})
    requests.post(f"{sim.url}/items", json={"a": 2})
    requests.get(f"{sim.url}/items/7")
    stats = sim.stats()
    assert stats["total"] == 3
    assert stats["by_route"] == {"POST /items": 2, "GET /items/{item_id}": 1}
    assert stats["by_status"] == {"502": 1, "201": 1, "200": 1}
    assert stats["faults"] == {"status": 1}
    log = sim.request_log()
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in log] == [
        ("POST", "/items", 502, "status"),
        ("POST", "/items", 201, None),
        ("GET", "/items/7", 200, None),
    ]
    assert requests.get(f"{sim.url}/__admin__/stats").json() == stats
    assert len(requests.get(f"{sim.url}/__admin__/requests").json()["requests"]) == 3


def test_log_keeps_only_the_last_entries(monkeypatch):
    monkeypatch.setattr(base, "LOG_SIZE", 3)
    with CounterSimulator() as s:
        for i in range(5):
            requests.get(f"{s.url}/items/{i}")
        assert [e["path"] for e in s.request_log()] == ["/items/2", "/items/3", "/items/4"]
        assert s.stats()["total"] == 5


def test_status_fault_does_not_process(sim):
    sim.add_fault("status", count=1)
    r = requests.post(f"{sim.url}/items", json={"a": 1})
    assert r.status_code == 503
    assert sim.items == []


def test_timeout_fault_hangs_then_closes_without_processing(sim):
    sim.add_fault("timeout", delay=0.6, count=1)
    start = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.post(f"{sim.url}/items", json={"a": 1}, timeout=0.2)
    assert time.monotonic() - start < 0.5
    time.sleep(0.6)
    assert sim.items == []
    assert sim.stats()["by_status"] == {"timeout": 1}


def test_timeout_fault_ends_promptly_when_server_stops():
    s = CounterSimulator().start()
    s.add_fault("timeout", delay=30)
    outcome = {}

    def call():
        try:
            requests.get(f"{s.url}/items", timeout=10)
        except requests.RequestException as exc:
            outcome["error"] = exc

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.3)
    start = time.monotonic()
    s.stop()
    t.join(5)
    assert not t.is_alive()
    assert time.monotonic() - start < 3
    assert isinstance(outcome["error"], requests.ConnectionError)


def test_reset_fault_is_a_connection_error(sim):
    sim.add_fault("reset", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sim.url}/items", json={"a": 1})
    assert sim.items == []
    assert requests.post(f"{sim.url}/items", json={"a": 1}).status_code == 201


def test_rate_limit_fault_sends_retry_after(sim):
    sim.add_fault("rate_limit", retry_after=7, count=1)
    r = requests.post(f"{sim.url}/items", json={"a": 1})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert sim.items == []


def test_commit_then_500_processes_but_answers_500(sim):
    sim.add_fault("commit_then_500", count=1)
    r = requests.post(f"{sim.url}/items", json={"a": 1})
    assert r.status_code == 500
    assert sim.items == [{"a": 1}]


def test_html_fault_is_a_200_html_page(sim):
    sim.add_fault("html", count=1)
    r = requests.post(f"{sim.url}/items", json={"a": 1})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<html" in r.text
    assert sim.items == []


def test_count_rules_expire_and_match_method_and_path(sim):
    sim.set_faults([{"kind": "status", "status": 500, "method": "POST", "path": "^/items$", "count": 2}])
    assert requests.get(f"{sim.url}/items").status_code == 200
    assert requests.post(f"{sim.url}/items/1", json={}).status_code == 405
    codes = [requests.post(f"{sim.url}/items", json={}).status_code for _ in range(3)]
    assert codes == [500, 500, 201]
    assert sim.faults() == []


def test_probability_rules_are_reproducible_with_a_seed(sim):
    def run() -> list[int]:
        requests.put(
            f"{sim.url}/__admin__/faults",
            json={"rules": [{"kind": "status", "probability": 0.5}], "seed": 42},
        )
        return [requests.get(f"{sim.url}/items").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 503 in first and 200 in first


def test_admin_routes_are_never_faulted(sim):
    sim.set_faults([{"kind": "reset"}])
    assert requests.get(f"{sim.url}/__admin__/stats").status_code == 200
    assert requests.get(f"{sim.url}/__admin__/faults").json()["rules"][0]["kind"] == "reset"
    assert requests.delete(f"{sim.url}/__admin__/faults").status_code == 200
    assert requests.get(f"{sim.url}/items").status_code == 200


def test_admin_rejects_bad_rules(sim):
    for rule in (
        {"kind": "explode"},
        {"kind": "status", "probability": 2},
        {"kind": "status", "count": 0},
        {"kind": "status", "count": 1, "probability": 0.5},
        {"kind": "status", "colour": "red"},
    ):
        r = requests.put(f"{sim.url}/__admin__/faults", json={"rules": [rule]})
        assert r.status_code == 400, rule
    with pytest.raises(ValueError):
        sim.set_faults([{"kind": "nope"}])


def test_admin_reset_clears_state_log_and_faults(sim):
    requests.post(f"{sim.url}/items", json={"a": 1})
    sim.add_fault("status")
    assert requests.post(f"{sim.url}/__admin__/reset").status_code == 200
    assert sim.items == [] and sim.faults() == []
    assert sim.stats()["total"] == 0


def test_main_prints_json_and_exits_zero_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_daemon.simulators", "--generate", "3", "--seed", "1", "--storage", "hpos"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"woocommerce", "gotrack", "orderrepo"}
        assert info["gotrack"]["endpoint"].endswith("/api/v1/orders")
        assert info["woocommerce"]["credentials"]["consumer_key"].startswith("ck_")
        assert info["woocommerce"]["orders"] == 3
        assert info["woocommerce"]["storage"] == "hpos"
        assert requests.get(info["orderrepo"]["url"] + "/__admin__/stats", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_main_starts_only_the_named_simulator():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync_daemon.simulators", "--gotrack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert set(json.loads(proc.stdout.readline())) == {"gotrack"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
