"""Tracktor shipment statuses written back into WooCommerce by the running daemon."""

from __future__ import annotations

import json
import urllib.request

import pytest

from sync_daemon.simulators.orders import generate_orders

from .harness import Daemon, run_cli, wait_until, write_config

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


def tracktor_config(tmp_path, woocommerce, tracktor, **extra):
    credentials = tracktor.credentials
    return write_config(
        tmp_path / "config.toml", woocommerce, None,
        **{"tracktor.enabled": "true", "tracktor.base_url": f'"{credentials["base_url"]}"',
           "tracktor.uuid": f'"{credentials["uuid"]}"', "tracktor.api_key": f'"{credentials["api_key"]}"',
           "tracktor.order_id_source": '"order_id"', "tracktor.poll_interval_seconds": "1",
           "writeback.interval_seconds": "1", **extra},
    )


def tracktor_notes(woocommerce, order_id):
    return [note["note"] for note in woocommerce.notes(order_id) if note["note"].startswith("Tracktor")]


def test_each_shipment_step_is_noted_once_and_delivered_completes(tmp_path, woocommerce, tracktor):
    woocommerce.add_orders(generate_orders(2, seed=21, start_id=9500))
    tracktor.add_order("9500", fulfillments=[{"carrier": "Pathao", "tracking_number": "PX9500",
                                              "shipment_status": "order_ready"}])
    config = tracktor_config(tmp_path, woocommerce, tracktor)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(tracktor_notes(woocommerce, 9500)) == 1, timeout=20)
        tracktor.advance("9500", "in_transit")
        assert wait_until(lambda: len(tracktor_notes(woocommerce, 9500)) == 2, timeout=20)
        assert woocommerce.get_order(9500)["status"] == "processing"
        tracktor.advance("9500", "delivered")
        assert wait_until(lambda: woocommerce.get_order(9500)["status"] == "completed", timeout=20)
        passes = lambda: len([x for x in daemon.log_lines() if x.get("event") == "pass finished"])  # noqa: E731
        seen = passes()
        assert wait_until(lambda: passes() >= seen + 3, timeout=20)
    finally:
        assert daemon.stop() == 0
    assert tracktor_notes(woocommerce, 9500) == [
        "Tracktor: order_ready — carrier Pathao, tracking PX9500",
        "Tracktor: in_transit — carrier Pathao, tracking PX9500",
        "Tracktor: delivered — carrier Pathao, tracking PX9500",
    ]
    meta = {entry["key"]: entry["value"] for entry in woocommerce.get_order(9500)["meta_data"]}
    assert meta["_sync_daemon_tracking_number"] == "PX9500" and meta["_sync_daemon_carrier"] == "Pathao"
    assert woocommerce.notes(9501) == []  # not known to Tracktor: not tracked
    history = json.loads(run_cli("status", "9500", "--json", config=config).stdout)
    assert history["tracking"]["shipment_status"] == "delivered" and history["tracking"]["done"] == 1


def test_exception_is_surfaced_and_counted(tmp_path, woocommerce, tracktor):
    woocommerce.add_orders(generate_orders(1, seed=22, start_id=9600))
    tracktor.add_order("9600", fulfillments=[{"carrier": "Steadfast", "tracking_number": "SF1",
                                              "shipment_status": "in_transit"}])
    tracktor.set_exception("9600", "undelivered")
    config = tracktor_config(tmp_path, woocommerce, tracktor)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: any("exception: undelivered" in n for n in tracktor_notes(woocommerce, 9600)), 20)
    finally:
        assert daemon.stop() == 0
    assert any(line.get("event") == "Tracktor reports a shipment exception" for line in daemon.log_lines())
    summary = json.loads(run_cli("status", "--json", config=config).stdout)
    assert summary["tracking"]["exceptions"] == 1
    assert "1 with a shipment exception" in run_cli("status", config=config).stdout
    assert woocommerce.get_order(9600)["status"] == "processing"


def test_writeback_dry_run_shows_and_changes_nothing(tmp_path, woocommerce, tracktor):
    woocommerce.add_orders(generate_orders(1, seed=23, start_id=9700))
    tracktor.add_order("9700", fulfillments=[{"carrier": "Pathao", "tracking_number": "PX1",
                                              "shipment_status": "delivered"}])
    # The daemon only records the order for tracking; the write-back job is off.
    config = tracktor_config(tmp_path, woocommerce, tracktor, **{"writeback.enabled": "false"})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: any(x.get("event") == "pass finished" for x in daemon.log_lines()), 20)
    finally:
        daemon.stop()
    woocommerce_writes = len(woocommerce.writes())
    result = run_cli("writeback", "--dry-run", config=config)
    assert result.returncode == 0, result.stderr
    assert "order 9700: would write: status processing → completed" in result.stdout
    assert len(woocommerce.writes()) == woocommerce_writes
    applied = run_cli("writeback", config=config)
    assert "order 9700: wrote: status processing → completed" in applied.stdout
    assert woocommerce.get_order(9700)["status"] == "completed"


def test_delivered_reaches_orderrepo_once_and_shipment_notes_do_not(tmp_path, woocommerce, gotrack, orderrepo,
                                                                     tracktor):
    """Tracktor said delivered → the daemon completed the order: OrderRepo's "WooCommerce status" follows
    with exactly one update; the notes and meta of the earlier steps send nothing; GoTrack (no update
    API) hears nothing more."""
    woocommerce.add_orders(generate_orders(1, seed=24, start_id=9800))
    tracktor.add_order("9800", fulfillments=[{"carrier": "Pathao", "tracking_number": "PX9800",
                                              "shipment_status": "order_ready"}])
    credentials = tracktor.credentials
    config = write_config(
        tmp_path / "config.toml", woocommerce, gotrack, orderrepo,
        **{"tracktor.enabled": "true", "tracktor.base_url": f'"{credentials["base_url"]}"',
           "tracktor.uuid": f'"{credentials["uuid"]}"', "tracktor.api_key": f'"{credentials["api_key"]}"',
           "tracktor.order_id_source": '"order_id"', "tracktor.poll_interval_seconds": "1",
           "writeback.interval_seconds": "1"},
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    passes = lambda: len([x for x in daemon.log_lines() if x.get("event") == "pass finished"])  # noqa: E731
    try:
        assert wait_until(lambda: len(tracktor_notes(woocommerce, 9800)) == 1, timeout=20)
        tracktor.advance("9800", "in_transit")
        assert wait_until(lambda: len(tracktor_notes(woocommerce, 9800)) == 2, timeout=20)
        seen = passes()
        assert wait_until(lambda: passes() >= seen + 3, timeout=20)
        assert orderrepo.order("9800")["update_requests"] == 0  # notes and meta only: nothing to tell
        tracktor.advance("9800", "delivered")
        assert wait_until(lambda: orderrepo.order("9800")["update_requests"] == 1, timeout=20)
        seen = passes()
        assert wait_until(lambda: passes() >= seen + 3, timeout=20)
    finally:
        assert daemon.stop() == 0
    stored = orderrepo.order("9800")
    assert stored["update_requests"] == 1 and stored["track_requests"] == 1
    assert {"name": "WooCommerce status", "value": "completed"} in stored["payload"]["data"]
    assert woocommerce.get_order(9800)["status"] == "completed"
    assert [order["requests"] for order in gotrack.orders()] == [1]


def test_a_tracktor_webhook_reads_the_order_it_names_only(tmp_path, woocommerce, tracktor):
    """Webhooks on: no polling of Tracktor until the backstop; a webhook for 9901 reads 9901 (one request)
    and its delivery is written back; the other tracked orders are not asked about."""
    from .test_webhooks_e2e import free_port

    woocommerce.add_orders(generate_orders(3, seed=25, start_id=9900))
    for order_id in (9900, 9901, 9902):
        tracktor.add_order(str(order_id), fulfillments=[{"carrier": "Pathao", "tracking_number": f"PX{order_id}",
                                                         "shipment_status": "in_transit"}])
    port = free_port()
    config = tracktor_config(tmp_path, woocommerce, tracktor, **{
        "tracktor.webhooks_active": "true", "server.enabled": "true", "server.listen": f'"127.0.0.1:{port}"',
        "server.tracktor_secret": '"tt-e2e-token-0123456789"'})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: any(x.get("event") == "pass finished" for x in daemon.log_lines()), 20)
        assert tracktor.stats()["total"] == 0  # the backstop is hours away
        tracktor.advance("9901", "delivered")
        body = json.dumps({"fulfillment": {"id": 1, "order_id": 9901, "shipment_status": "in_transit"}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/tracktor/tt-e2e-token-0123456789",
                                         data=body, method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.loads(answer.read()) == {"result": "hint"}
        assert wait_until(lambda: woocommerce.get_order(9901)["status"] == "completed", timeout=20)
    finally:
        assert daemon.stop() == 0
    assert [entry["path"].rsplit("/", 1)[-1] for entry in tracktor.request_log()] == ["9901.json"]
    assert tracktor_notes(woocommerce, 9900) == [] and tracktor_notes(woocommerce, 9902) == []
