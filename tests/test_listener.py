"""The listener's WSGI app without sockets: signatures, ping, limits, coalescing, /healthz, /metrics."""

from __future__ import annotations

import io
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.server_settings import ServerSettings, split_listen
from sync_daemon.service.health import Health
from sync_daemon.service.hints import EVERYTHING, HintBox
from sync_daemon.service.intake import Intake
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import Metrics
from sync_daemon.source.webhooks import read_delivery, signature

SECRET = "whsec-test-0123456789"


def make_app(tmp_path: Path | None = None, **server: Any) -> tuple[ListenerApp, HintBox, Metrics, list[int]]:
    wakes: list[int] = []
    hints = HintBox(lambda: wakes.append(1))
    metrics = Metrics()
    settings = ServerSettings(woocommerce_secret=SECRET, **server)
    health = Health(tmp_path / "ledger.sqlite3", lambda: 60.0, lambda: metrics.last_success_at) if tmp_path else None
    tracktor = HintBox()
    return ListenerApp(Routes(lambda: settings, hints, metrics, health, tracktor)), hints, metrics, wakes


def call(app: ListenerApp, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         query: str = "") -> tuple[int, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "203.0.113.9",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    status, answer, _ = app.handle(environ)
    return status, answer


def wc_headers(body: bytes, topic: str = "order.updated", secret: str = SECRET, delivery: str = "") -> dict[str, str]:
    headers = {
        "Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[-1], "X-WC-Webhook-Signature": signature(body, secret),
        "X-WC-Webhook-Source": "https://shop.example.com/",
    }
    if delivery:
        headers["X-WC-Webhook-Delivery-ID"] = delivery
    return headers


def test_signed_hint_is_queued_and_wakes_once() -> None:
    app, hints, metrics, wakes = make_app()
    body = json.dumps({"id": 41, "status": "processing"}).encode()
    assert call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body))[0] == 200
    assert hints.take() == [41]
    assert wakes == [1]
    assert b'sync_daemon_webhooks_received_total{source="woocommerce",verdict="hint"} 1.0' in metrics.render()


def test_flood_of_hints_for_one_order_coalesces_to_one_read() -> None:
    app, hints, _, wakes = make_app()
    body = json.dumps({"id": 7}).encode()
    for _ in range(500):
        assert call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body))[0] == 200
    assert hints.take() == [7]
    assert wakes == [1]


def test_creation_ping_is_answered_200_without_signature() -> None:
    app, hints, _, _ = make_app()
    status, _ = call(app, "POST", "/webhooks/woocommerce", b"webhook_id=12",
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert len(hints) == 0


def test_forged_signature_is_401_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    app, hints, metrics, _ = make_app()
    body = json.dumps({"id": 41}).encode()
    for _ in range(3):
        assert call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body, secret="wrong-secret"))[0] == 401
    assert len(hints) == 0
    assert app._logged_sources == {("203.0.113.9", "woocommerce")}
    assert SECRET.encode() not in metrics.render()


def test_unsigned_order_body_is_401() -> None:
    app, hints, _, _ = make_app()
    body = json.dumps({"id": 41}).encode()
    headers = wc_headers(body)
    del headers["X-WC-Webhook-Signature"]
    assert call(app, "POST", "/webhooks/woocommerce", body, headers)[0] == 401
    assert len(hints) == 0


def test_replayed_delivery_is_dropped_as_duplicate() -> None:
    app, hints, metrics, _ = make_app()
    body = json.dumps({"id": 5}).encode()
    headers = wc_headers(body, delivery="abc123")
    assert call(app, "POST", "/webhooks/woocommerce", body, headers)[0] == 200
    assert hints.take() == [5]
    status, answer = call(app, "POST", "/webhooks/woocommerce", body, headers)
    assert (status, json.loads(answer)["result"]) == (200, "duplicate")
    assert hints.take() == []


def test_deliveries_sharing_a_delivery_id_within_one_second_are_all_taken(captured_logs) -> None:
    """WooCommerce gives every delivery of a webhook within one second the same id: each is a hint."""
    app, hints, metrics, _ = make_app()
    answers = []
    for order in (11, 12, 13, 14):  # one batch edit of four orders
        body = json.dumps({"id": order, "shipping": {"address_1": f"Road {order}"}}).encode()
        answers.append(json.loads(call(app, "POST", "/webhooks/woocommerce", body,
                                       wc_headers(body, delivery="same-second-id"))[1])["result"])
    assert answers == ["hint"] * 4
    assert hints.take() == [11, 12, 13, 14]
    replay = json.dumps({"id": 12, "shipping": {"address_1": "Road 12"}}).encode()
    status, answer = call(app, "POST", "/webhooks/woocommerce", replay, wc_headers(replay, delivery="same-second-id"))
    assert (status, json.loads(answer)["result"]) == (200, "duplicate")
    assert hints.take() == []
    assert b'verdict="duplicate"} 1.0' in metrics.render()
    dropped = [json.loads(line) for line in captured_logs.getvalue().splitlines() if "dropped" in line]
    assert [(line["level"], line["order"], line["reason"][:8]) for line in dropped] == [("debug", 12, "a replay")]


def test_oversized_body_is_413() -> None:
    app, hints, _, _ = make_app(max_body_bytes=2048)
    body = json.dumps({"id": 1, "pad": "x" * 5000}).encode()
    assert call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body))[0] == 413
    assert len(hints) == 0


def test_garbage_json_with_valid_signature_is_400() -> None:
    app, hints, _, _ = make_app()
    body = b"{not json"
    assert call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body))[0] == 400
    assert len(hints) == 0


def test_unknown_topic_is_200_ignored() -> None:
    app, hints, _, _ = make_app()
    body = json.dumps({"id": 3}).encode()
    status, answer = call(app, "POST", "/webhooks/woocommerce", body, wc_headers(body, topic="product.updated"))
    assert (status, json.loads(answer)["result"]) == (200, "ignored")
    assert len(hints) == 0


def test_no_secret_configured_refuses_every_signed_delivery() -> None:
    body = json.dumps({"id": 3}).encode()
    delivery = read_delivery(body, {k.lower(): v for k, v in wc_headers(body).items()}, "")
    assert delivery.verdict == "no_secret"


def test_tracktor_needs_its_token() -> None:
    app, _, _, _ = make_app(tracktor_secret="tt-token-1234")
    assert call(app, "POST", "/webhooks/tracktor", b"{}")[0] == 404
    assert call(app, "POST", "/webhooks/tracktor/wrong", b"{}")[0] == 404
    assert call(app, "POST", "/webhooks/tracktor/tt-token-1234", b"{}")[0] == 200
    assert call(app, "POST", "/webhooks/tracktor", b"{}", query="token=tt-token-1234")[0] == 200
    app_off, _, _, _ = make_app()
    assert call(app_off, "POST", "/webhooks/tracktor/", b"{}")[0] == 404


def test_healthz_starting_ok_then_stale(tmp_path: Path) -> None:
    app, _, metrics, _ = make_app(tmp_path)
    assert call(app, "GET", "/healthz")[0] == 200
    metrics.poll_finished(0.5, True, now=1.0)  # long ago
    status, body = call(app, "GET", "/healthz")
    assert status == 503
    assert "last successful poll" in json.loads(body)["reasons"][0]
    metrics.poll_finished(0.5, True)
    assert call(app, "GET", "/healthz")[0] == 200


def test_healthz_unwritable_ledger(tmp_path: Path) -> None:
    ledger_dir = tmp_path / "not-a-dir"
    ledger_dir.write_text("a file")
    app, _, _, _ = make_app(ledger_dir)
    status, body = call(app, "GET", "/healthz")
    assert status == 503
    assert "ledger not writable" in json.loads(body)["reasons"][0]


def test_metrics_reads_the_ledger(tmp_path: Path) -> None:
    from sync_daemon.ledger import SqliteLedger

    ledger = SqliteLedger.open(tmp_path)
    ledger.close()
    metrics = Metrics(tmp_path / "ledger.sqlite3")
    metrics.poll_finished(1.2, True)
    text = metrics.render().decode()
    for name in ("sync_daemon_ledger_bytes", "sync_daemon_poll_duration_seconds_bucket",
                 "sync_daemon_last_successful_poll_timestamp_seconds"):
        assert name in text


def test_listen_parsing() -> None:
    assert split_listen("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert split_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError):
        split_listen("8787")


def test_port_in_use_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app, _, _, _ = make_app()
        with pytest.raises(ConfigurationError, match="cannot listen"):
            Listener(app, ServerSettings(listen=f"127.0.0.1:{port}"))


def test_listener_serves_and_stops() -> None:
    app, _, _, _ = make_app()
    listener = Listener(app, ServerSettings(listen="127.0.0.1:0"))
    listener.start()
    host, port = listener.address
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as answer:
        assert answer.status == 200
    listener.stop()
    assert not listener.thread.is_alive()


def test_tracktor_webhooks_drop_tracking_polls_to_the_backstop() -> None:
    from sync_daemon.platforms.tracktor.settings import TracktorSettings
    from sync_daemon.platforms.tracktor.tracking import TracktorTracking

    polling = TracktorTracking(TracktorSettings(uuid="shop-1", api_key="key-1234"))
    told = TracktorTracking(TracktorSettings(uuid="shop-1", api_key="key-1234", webhooks_active=True))
    assert (polling.interval_seconds, told.interval_seconds) == (600, 21600)


def test_a_flood_of_tracktor_webhooks_is_one_tracking_read() -> None:
    wakes: list[int] = []
    tracktor = HintBox(lambda: wakes.append(1))
    settings = ServerSettings(tracktor_secret="tt-token-1234")
    app = ListenerApp(Routes(lambda: settings, HintBox(), Metrics(), None, tracktor))
    for _ in range(100):
        assert call(app, "POST", "/webhooks/tracktor/tt-token-1234", b'{"order_id": 5}')[0] == 200
    assert wakes == [1]


def tracktor_app() -> tuple[ListenerApp, HintBox, Metrics]:
    tracktor: HintBox[str] = HintBox()
    metrics = Metrics()
    settings = ServerSettings(tracktor_secret="tt-token-1234")
    return ListenerApp(Routes(lambda: settings, HintBox(), metrics, None, tracktor)), tracktor, metrics


def tracktor_post(app: ListenerApp, body: bytes) -> dict[str, Any]:
    status, answer = call(app, "POST", "/webhooks/tracktor/tt-token-1234", body)
    assert status == 200
    return json.loads(answer)


def test_a_tracktor_webhook_hints_the_order_it_names_and_nothing_else() -> None:
    app, tracktor, metrics = tracktor_app()
    fulfillment = {"fulfillment": {"id": 4400112233, "order_id": 5012345678, "shipment_status": "delivered"}}
    assert tracktor_post(app, json.dumps(fulfillment).encode()) == {"result": "hint"}
    assert tracktor_post(app, b'{"order_id": "5012345678", "shipment_status": "in_transit"}') == {"result": "coalesced"}
    assert tracktor_post(app, b'{"order": {"id": 77}}') == {"result": "hint"}
    assert tracktor.take() == ["5012345678", "77"]  # ids only: no status travels with them
    rendered = metrics.render().decode()
    assert 'sync_daemon_webhooks_received_total{source="tracktor",verdict="hint"} 2.0' in rendered
    assert 'sync_daemon_webhooks_received_total{source="tracktor",verdict="coalesced"} 1.0' in rendered


def test_a_tracktor_webhook_naming_no_order_asks_for_everything_once() -> None:
    app, tracktor, _ = tracktor_app()
    assert tracktor_post(app, b"<html>not json</html>") == {"result": "unnamed"}
    assert tracktor_post(app, b'{"fulfillment": {"id": 4400112233}}') == {"result": "coalesced"}
    assert tracktor.take() == [EVERYTHING]


def test_the_intake_reads_named_orders_and_everything_only_when_asked(tmp_path: Path) -> None:
    from sync_daemon.config import Settings

    intake = Intake(Settings.model_validate({"state_dir": str(tmp_path)}))
    queued: list[Any] = []
    asked: list[Any] = []
    intake.start(lambda function, name, delay=0.0: queued.append(function), lambda what, job: None, asked.append)
    for order in ("77", "5012345678", "77"):
        intake.tracktor_hints.add(order)
    assert len(queued) == 1
    queued.pop()()
    assert asked == [["5012345678", "77"]]  # everything named since the last read, each once
    intake.tracktor_hints.add(EVERYTHING)  # a body that named nothing
    intake.tracktor_hints.add("9")
    queued.pop()()
    assert asked[1:] == [["9"], None]  # the named one surely, then every order due


@pytest.fixture
def restore_signals():
    import signal

    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


def test_a_tracktor_hint_for_one_order_reads_that_order_only(tmp_path: Path, tracktor, restore_signals) -> None:
    """The daemon's own path: listener → hint box → intake → runner → engine → Tracktor, one request."""
    import time

    from sync_daemon.config import Settings
    from sync_daemon.core.outcome import IngestItem
    from sync_daemon.service.runner import Daemon

    credentials = tracktor.credentials
    settings = Settings.model_validate({
        "state_dir": str(tmp_path / "state"),
        "woocommerce": {"url": "http://127.0.0.1:9", "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "server": {"tracktor_secret": "tt-token-1234"},
        "tracktor": {"enabled": True, **credentials, "order_id_source": "order_id", "webhooks_active": True},
    })
    daemon = Daemon(settings, None)
    queued: list[Any] = []
    try:
        orders = (9501, 9502, 9503)
        daemon.ledger.ingest([IngestItem(n, str(n), "m", "processing", [], tracking_id=str(n)) for n in orders],
                             now=time.time())
        for n in orders:
            tracktor.add_order(n, [{"carrier": "Pathao", "tracking_number": f"PX{n}", "shipment_status": "in_transit"}])
        daemon.intake.start(lambda function, name, delay=0.0: queued.append(function), daemon._guarded,
                            daemon._pull_tracking_now)
        app = ListenerApp(Routes(lambda: settings.server, daemon.intake.hints, daemon.intake.metrics, None,
                                 daemon.intake.tracktor_hints))
        tracktor.advance(9502, "delivered")
        for _ in range(3):  # Tracktor repeating itself before the worker is free: one read
            assert call(app, "POST", "/webhooks/tracktor/tt-token-1234", b'{"order_id": 9502}')[0] == 200
        assert len(queued) == 1
        queued.pop()()  # the scheduler's worker runs the job
        assert [entry["path"].rsplit("/", 1)[-1] for entry in tracktor.request_log()] == ["9502.json"]
        assert daemon.ledger.tracking_due(now=time.time(), max_age_seconds=86400) == [(9501, "9501"), (9503, "9503")]
    finally:
        daemon.engine.close()
        daemon.ledger.close()
        if daemon.lock is not None:
            daemon.lock.release()
