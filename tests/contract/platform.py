"""The platform contract: what every platform that delivers orders must do, tested once for all.

In the style of vdirsyncer's ``StorageTests``: ``PlatformContract`` holds the tests, a test module
subclasses it and provides a ``harness`` fixture (``tests/contract/harnesses.py``: the platform's
simulator, its settings, an order it accepts, a payload it refuses). Every test sends real requests
to the platform's simulator, directly through the platform's destination or through a whole sync
pass (WooCommerce simulator, engine, SQLite ledger), and asserts exactly what the daemon relies on:

- wrong credentials raise ``AuthError``; the engine pauses the destination without burning an attempt;
- 5xx, a timeout and a reset raise ``RetryableError``; a 429 ``RateLimitedError`` with its Retry-After;
- a refusal raises ``PermanentError`` with the platform's own message; the ledger row is rejected with it;
- a crash between send and commit duplicates nothing: the same payload sent again lands once;
- ``check()`` proves valid settings without creating anything and fails on wrong credentials;
- no secret of the section reaches a log line, an error message or a check result.

The test module provides ``harness``; ``woocommerce_for_module`` and ``captured_logs`` come from
``tests/conftest.py``. Both simulators are reset before every test, so one of each serves the module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.core.errors import AuthError, PermanentError, RateLimitedError, RetryableError, SyncError
from sync_daemon.core.order import Order
from sync_daemon.engine.sync import Engine
from sync_daemon.ledger import Ledger, SqliteLedger
from sync_daemon.platforms import REGISTRY, CheckResult, Destination, MappingResult, Platform, ShopContext
from tests.contract.harnesses import SHOP_ORIGIN, PlatformHarness

SHOP = ShopContext(url=f"{SHOP_ORIGIN}/", origin=SHOP_ORIGIN)
ORDER_ID = 1001
RETRY_SECONDS = 0.05  # the whole retry schedule: a failed delivery is due again 50 ms later
SHORT_TIMEOUT_SECONDS = 0.3  # the client's timeout in the timeout test, well below …
HANGING_SECONDS = 1.0  # … how long the simulator leaves that request unanswered


@contextlib.contextmanager
def connected(harness: PlatformHarness, section: dict[str, Any]) -> Iterator[Platform]:
    """The platform built from a settings section, closed afterwards."""
    platform_class = REGISTRY[harness.name]
    platform = platform_class(platform_class.Settings.model_validate(section), SHOP)
    try:
        yield platform
    finally:
        platform.close()


def lane_of(platform: Platform, harness: PlatformHarness) -> Destination:
    """The platform's order lane."""
    return next(lane for lane in platform.destinations() if lane.name == harness.lane)


def payload_for(lane: Destination, harness: PlatformHarness, order_id: int = ORDER_ID) -> dict[str, Any]:
    """What the lane sends for an order the platform accepts."""
    return lane.map_order(Order.from_wc(harness.order(order_id))).payload


@contextlib.contextmanager
def engine_for(
    shop: Any, harness: PlatformHarness, state_dir: Any, section: dict[str, Any], retries: int = 1
) -> Iterator[tuple[Engine, Ledger]]:
    """An engine syncing the WooCommerce simulator to this platform alone, on a ledger in ``state_dir``.

    A failed delivery is retried ``retries`` times, each ``RETRY_SECONDS`` later, then it is dead.
    """
    settings = Settings.model_validate({
        "state_dir": str(state_dir),
        "woocommerce": {"url": shop.url, "consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret},
        "delivery": {"retry_schedule_seconds": [RETRY_SECONDS] * retries, "retry_jitter": 0},
        harness.name: section,
    })
    ledger = SqliteLedger.open(state_dir)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        engine.startup()
        yield engine, ledger
    finally:
        engine.close()
        ledger.close()


def secret_values(harness: PlatformHarness, *sections: dict[str, Any]) -> list[str]:
    """Every secret (``SecretStr``) value of the given sections of this platform."""
    settings_class = REGISTRY[harness.name].Settings
    values = set()
    for section in sections:
        for value in settings_class.model_validate(section).__dict__.values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.add(value.get_secret_value())
    return sorted(values)


class PlatformContract:
    """Tests every delivering platform passes; the test module provides the ``harness`` fixture."""

    @pytest.fixture(autouse=True)
    def _fresh_simulators(self, harness: PlatformHarness, woocommerce_for_module: Any) -> None:
        # One simulator of each serves the whole module: each test starts from empty ones.
        harness.reset()
        woocommerce_for_module.reset()

    @pytest.fixture
    def shop(self, woocommerce_for_module: Any) -> Any:
        """The WooCommerce simulator the engine reads orders from."""
        return woocommerce_for_module

    # -- credentials ------------------------------------------------------------------------

    def test_wrong_credentials_raise_auth_error(self, harness):
        with connected(harness, harness.wrong_credentials()) as platform:
            lane = lane_of(platform, harness)
            with pytest.raises(AuthError):
                lane.push(payload_for(lane, harness), operation="create", remote_id=None)
        assert harness.orders_held() == 0

    def test_wrong_credentials_pause_the_destination_without_burning_an_attempt(self, harness, shop, tmp_path):
        shop.add_orders([harness.order(ORDER_ID)])
        with engine_for(shop, harness, tmp_path, harness.wrong_credentials()) as (engine, ledger):
            summary = engine.sync_pass()
            record = ledger.destination(harness.lane)
            row = ledger.delivery(ORDER_ID, harness.lane)
        assert (summary.delivered, summary.paused) == (0, 1)
        assert record["pause_kind"] == "auth"
        assert (row["state"], row["attempts"]) == ("pending", 0)
        assert harness.orders_held() == 0

    # -- transient failures ------------------------------------------------------------------

    @pytest.mark.parametrize(
        "fault",
        [
            {"kind": "status", "status": 500},
            {"kind": "status", "status": 503},
            {"kind": "reset"},
            {"kind": "timeout", "delay": HANGING_SECONDS},
        ],
        ids=["500", "503", "reset", "timeout"],
    )
    def test_server_errors_timeouts_and_resets_are_retryable(self, harness, fault):
        harness.simulator.add_fault(**fault, count=1)
        with connected(harness, harness.section(timeout_seconds=SHORT_TIMEOUT_SECONDS)) as platform:
            lane = lane_of(platform, harness)
            payload = payload_for(lane, harness)
            with pytest.raises(RetryableError) as caught:
                lane.push(payload, operation="create", remote_id=None)
            assert not isinstance(caught.value, RateLimitedError)
            assert caught.value.max_attempts is None  # the ordinary retry schedule applies
            assert harness.orders_held() == 0
            lane.push(payload, operation="create", remote_id=None)  # the fault has passed: it lands
        assert harness.orders_held() == 1

    def test_rate_limit_carries_the_retry_after_seconds(self, harness):
        harness.simulator.add_fault("rate_limit", retry_after=7, count=1)
        with connected(harness, harness.section()) as platform:
            lane = lane_of(platform, harness)
            with pytest.raises(RateLimitedError) as caught:
                lane.push(payload_for(lane, harness), operation="create", remote_id=None)
        assert caught.value.retry_after == 7
        assert caught.value.http_status == 429
        assert harness.orders_held() == 0

    # -- refusals ----------------------------------------------------------------------------

    def test_a_refusal_is_permanent_with_the_platform_message(self, harness):
        with connected(harness, harness.section()) as platform:
            lane = lane_of(platform, harness)
            with pytest.raises(PermanentError) as caught:
                lane.push(harness.refuse(payload_for(lane, harness)), operation="create", remote_id=None)
        assert harness.refusal_message in str(caught.value)
        assert harness.orders_held() == 0

    def test_a_refusal_is_recorded_as_rejected_with_the_reason(self, harness, shop, tmp_path, monkeypatch):
        shop.add_orders([harness.order(ORDER_ID)])
        with engine_for(shop, harness, tmp_path, harness.section()) as (engine, ledger):
            # The mappings reject locally whatever they can foresee, so a payload the platform
            # refuses is made from an accepted one, the way the harness says the platform refuses.
            lane = engine.destinations[harness.lane]
            map_order = lane.map_order

            def map_refused(order: Order) -> MappingResult:
                mapped = map_order(order)
                return dataclasses.replace(mapped, payload=harness.refuse(mapped.payload))

            monkeypatch.setattr(lane, "map_order", map_refused)
            summary = engine.sync_pass()
            row = ledger.delivery(ORDER_ID, harness.lane)
            history = ledger.order_history(ORDER_ID)
            summary_of_ledger = ledger.summary()
        assert summary.rejected == 1
        assert (row["state"], row["attempts"]) == ("rejected", 1)
        assert harness.refusal_message in row["last_error"]
        (attempt,) = [attempt for attempt in history["attempts"] if attempt["destination"] == harness.lane]
        assert attempt["outcome"] == "rejected" and harness.refusal_message in attempt["message"]
        (delivery,) = [delivery for delivery in history["deliveries"] if delivery["destination"] == harness.lane]
        assert delivery["last_error"] == row["last_error"]
        assert summary_of_ledger["counts"][harness.lane]["rejected"] == 1
        assert harness.refusal_message in summary_of_ledger["destinations"][harness.lane]["last_error"]
        assert harness.orders_held() == 0

    # -- a crash between send and commit -----------------------------------------------------

    def test_the_same_payload_sent_twice_lands_once(self, harness):
        with connected(harness, harness.section()) as platform:
            lane = lane_of(platform, harness)
            payload = payload_for(lane, harness)
            first = lane.push(payload, operation="create", remote_id=None)
            # A restart re-sends a row left in ``sending``: the same create, the same payload.
            second = lane.push(payload, operation="create", remote_id=None)
        assert second.remote_id == first.remote_id
        assert harness.orders_held() == 1

    def test_an_answer_lost_after_the_commit_is_retried_into_exactly_one_order(self, harness, shop, tmp_path):
        shop.add_orders([harness.order(ORDER_ID)])
        harness.simulator.add_fault("commit_then_500", count=1)
        with engine_for(shop, harness, tmp_path, harness.section()) as (engine, ledger):
            first = engine.sync_pass()
            assert (first.delivered, first.retrying) == (0, 1)
            assert harness.orders_held() == 1  # the platform has it; the daemon does not know
            for _ in range(40):
                time.sleep(RETRY_SECONDS)
                if engine.sync_pass().delivered:
                    break
            row = ledger.delivery(ORDER_ID, harness.lane)
        assert (row["state"], row["attempts"]) == ("delivered", 2)
        assert harness.orders_held() == 1

    @pytest.mark.parametrize("failing_step", ["read", "update"])
    def test_a_failed_recovery_step_is_retried_as_an_update_not_a_second_create(
        self, harness, shop, tmp_path, failing_step
    ):
        if harness.update_path is None:
            pytest.skip(f"{harness.name} has no update API")
        shop.add_orders([harness.order(ORDER_ID)])
        # create (500 after commit) → create (refused: exists) → read → update, the read or the
        # update answering 500 → the next attempt must update, not create a third time.
        harness.simulator.add_fault("commit_then_500", method="POST", path=harness.create_path, count=1)
        method, path = ("GET", harness.read_path) if failing_step == "read" else ("POST", harness.update_path)
        harness.simulator.add_fault("status", status=500, method=method, path=path, count=1)
        with engine_for(shop, harness, tmp_path, harness.section(), retries=5) as (engine, ledger):
            for _ in range(40):
                if engine.sync_pass().delivered:
                    break
                time.sleep(RETRY_SECONDS)
            row = ledger.delivery(ORDER_ID, harness.lane)
        # (Without the request a previous test left hanging on a timeout fault: it is logged when it ends.)
        log = [entry for entry in harness.simulator.request_log() if entry["fault"] != "timeout"]
        creates = [entry["status"] for entry in log if re.search(harness.create_path, entry["path"])]
        updates = [entry["status"] for entry in log if re.search(harness.update_path, entry["path"])]
        assert row["state"] == "delivered", row["last_error"]
        # The platform confirmed the order at the second create: after that, only updates.
        assert creates == [500, 422]
        assert updates == ([500, 200] if failing_step == "update" else [200])
        assert harness.orders_held() == 1

    # -- the connection check ----------------------------------------------------------------

    def test_check_with_valid_settings_is_ok_and_creates_nothing(self, harness):
        with connected(harness, harness.section()) as platform:
            result = platform.check()
        assert isinstance(result, CheckResult)
        assert result.ok, result.message
        assert harness.orders_held() == 0

    def test_check_with_wrong_credentials_fails(self, harness):
        with connected(harness, harness.check_refused_section()) as platform:
            result = platform.check()
        assert not result.ok
        assert result.hint  # says what to do about it
        assert harness.orders_held() == 0

    # -- secrets -----------------------------------------------------------------------------

    def test_secrets_never_appear_in_logs_messages_or_check_results(
        self, harness, shop, tmp_path, captured_logs, caplog
    ):
        caplog.set_level(logging.DEBUG)
        log = structlog.get_logger("test")
        valid, wrong = harness.section(), harness.wrong_credentials()
        secrets = secret_values(harness, valid, wrong, harness.check_refused_section())
        assert secrets  # the section has secrets to look for
        texts = []

        def attempt(section: dict[str, Any], refuse: bool = False) -> None:
            with connected(harness, section) as platform:
                lane = lane_of(platform, harness)
                payload = payload_for(lane, harness)
                try:
                    texts.append(repr(lane.push(harness.refuse(payload) if refuse else payload,
                                                operation="create", remote_id=None)))
                except SyncError as error:
                    texts.append(str(error))
                    log.warning("push failed", error=str(error), exc_info=True)

        attempt(wrong)  # auth
        harness.simulator.add_fault("status", status=500, count=1)
        attempt(valid)  # 5xx
        attempt(valid, refuse=True)  # validation
        for section in (valid, wrong, harness.check_refused_section()):
            with connected(harness, section) as platform:
                texts.append(repr(platform.check()))
        shop.add_orders([harness.order(ORDER_ID)])
        with engine_for(shop, harness, tmp_path, wrong) as (engine, ledger):
            engine.sync_pass()  # logs the pause, with the AuthError's message
            texts.append(repr(ledger.summary()))
        everything = "\n".join(texts) + captured_logs.getvalue() + caplog.text
        # The failures were logged (with tracebacks) and the engine logged the pause.
        assert '"event": "push failed"' in captured_logs.getvalue()
        assert '"event": "destination paused"' in captured_logs.getvalue()
        for secret in secrets:
            assert secret not in everything
