"""Crash paths found by reading the code (issue 29.6): each runs the real engine or config loader.

- After a thousand failed polls in a row the WooCommerce backoff must still compute a delay (no
  ``OverflowError``), and the pass must still deliver what is due.
- A platform URL with a port out of range is refused when the config is read, naming the key; one
  that reaches the send path anyway (settings built without validation) pauses the destination as a
  configuration problem instead of failing every send as an "internal error".
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings, load_settings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.engine.sync import SOURCE_BACKOFF_CAP_SECONDS, source_backoff_delay
from sync_daemon.ledger import SqliteLedger
from sync_daemon.simulators.orders import make_order
from tests.test_config import VALID

CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def engine_for(woocommerce, gotrack, state, *, gotrack_endpoint=None):
    settings = Settings.model_validate(
        {
            "state_dir": str(state),
            "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                            "consumer_secret": woocommerce.consumer_secret},
            "delivery": {"retry_schedule_seconds": [600], "retry_jitter": 0},
            "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                        "api_secret": gotrack.api_secret},
        }
    )
    if gotrack_endpoint is not None:
        # As if validation had been bypassed: model_copy does not validate.
        settings = settings.model_copy(update={"gotrack": settings.gotrack.model_copy(
            update={"endpoint": gotrack_endpoint})})
    ledger = SqliteLedger.open(state)
    engine = build_engine(settings, ledger, threading.Event())
    engine.startup()
    return engine, ledger


@pytest.mark.parametrize("failures", [1, 2, 11, 1_025, 10**6])
def test_the_backoff_delay_is_capped_whatever_the_failure_count(failures):
    delay = source_backoff_delay(60.0, failures)
    assert 60.0 <= delay <= SOURCE_BACKOFF_CAP_SECONDS
    if failures >= 5:
        assert delay == SOURCE_BACKOFF_CAP_SECONDS


def test_a_thousand_failed_polls_in_a_row_still_deliver_what_is_due(woocommerce, gotrack, tmp_path):
    engine, ledger = engine_for(woocommerce, gotrack, tmp_path)
    try:
        # An order recorded but not sent yet (as if the platform had been down), then WooCommerce
        # fails for the 1 025th time in a row.
        ledger.ingest([engine.map_raw(make_order(1, created=CREATED))], now=engine.clock())
        woocommerce.add_fault("status", status=503)
        engine._backoff.failures = 1_024  # noqa: SLF001 - ten days of failures, without waiting ten days
        summary = engine.sync_pass()
        assert summary.source_error is not None
        assert summary.delivered == 1
        assert ledger.delivery(1, "gotrack")["state"] == "delivered"
        assert ledger.get_meta("last_poll_result") == "failed"
    finally:
        engine.close()
        ledger.close()


# test_config's valid configuration, with a placeholder for GoTrack's endpoint.
VALID_CONFIG = VALID.replace('[gotrack]\n', '[gotrack]\nendpoint = "ENDPOINT"\n')


@pytest.mark.parametrize("endpoint", ["https://api.example.com:99999/orders", "https://api.example.com:0/orders",
                                      "https://api.example.com:80a/orders"])
def test_a_platform_url_with_an_unusable_port_is_a_config_error_naming_the_key(tmp_path, monkeypatch, endpoint):
    for name in ("SYNC_DAEMON_CONFIG", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(VALID_CONFIG.replace("ENDPOINT", endpoint))
    with pytest.raises(ConfigurationError) as raised:
        load_settings(path)
    assert "gotrack.endpoint" in str(raised.value)
    assert "port" in str(raised.value)


def test_a_port_out_of_range_at_send_time_pauses_the_platform_as_a_config_problem(woocommerce, gotrack, tmp_path):
    woocommerce.add_orders([make_order(1, created=CREATED)])
    engine, ledger = engine_for(woocommerce, gotrack, tmp_path, gotrack_endpoint="http://127.0.0.1:99999/orders")
    try:
        summary = engine.sync_pass()
        row = ledger.delivery(1, "gotrack")
        assert "internal error" not in (row["last_error"] or "")
        assert summary.paused == 1 and summary.retrying == 0
        halt = engine.paused("gotrack")
        assert halt is not None and halt.kind == "config"
        assert "99999" in halt.reason
    finally:
        engine.close()
        ledger.close()
