"""The bad-input corpus (tests/data/bad_orders) through real passes of the engine.

WooCommerce, GoTrack and OrderRepo are the in-process simulators; the ledger is a real SQLite file,
and again a real PostgreSQL server (the corpus runs on both backends). Every odd order, mixed with
valid ones, goes through ``Engine.sync_pass()``: none may crash the pass or hold up the valid
orders, and each must be delivered correctly or rejected with a reason in plain words. Pages are
small (10 orders), so odd orders sit on every page, not only the last.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.core.http import json_body
from sync_daemon.engine.sync import PassSummary
from sync_daemon.ledger import SqliteLedger, open_postgres
from sync_daemon.simulators import GoTrackSimulator, OrderRepoSimulator, WooCommerceSimulator
from sync_daemon.simulators.orders import generate_orders, make_order
from tests.conftest import POSTGRES_PASSWORD
from tests.data.bad_orders import CASES, DELIVERED, FALLBACK_IMAGE, Case, served_order

PLATFORMS = ("gotrack", "orderrepo")
ORIGIN = "https://shop.example.com"
MINOR_UNITS = {"BDT": 2, "JPY": 0}
VALID = generate_orders(25, seed=3, start_id=1)

# Orders without a usable modification date: besides the corpus run, each also runs on an early page
# of its own pass (test_undated_order_on_an_early_page), where it must not stop the window moving on.
UNDATED = ("missing-date-modified", "zero-date-modified")


@dataclass
class Run:
    """What passes over a set of orders left behind, on both sides."""

    summaries: list[PassSummary] = field(default_factory=list)
    error: str | None = None  # the traceback of an exception that escaped sync_pass
    rows: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    held: dict[str, Counter[str]] = field(default_factory=dict)
    landed: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    stored_totals: dict[str, dict[str, Any]] = field(default_factory=dict)


def settings_for(woocommerce: WooCommerceSimulator, gotrack: GoTrackSimulator, orderrepo: OrderRepoSimulator, state):
    return Settings.model_validate(
        {
            "state_dir": str(state),
            "log_level": "error",
            "woocommerce": {
                "url": woocommerce.url,
                "consumer_key": woocommerce.consumer_key,
                "consumer_secret": woocommerce.consumer_secret,
                "initial_window_days": 30,
                "per_page": 10,
            },
            "delivery": {"retry_schedule_seconds": [60], "retry_jitter": 0},
            "gotrack": {
                "enabled": True,
                "endpoint": gotrack.endpoint,
                "api_key": gotrack.api_key,
                "api_secret": gotrack.api_secret,
            },
            "orderrepo": {
                "enabled": True,
                "base_url": orderrepo.url,
                "api_key": orderrepo.api_key,
                "origin": ORIGIN,
                "fallback_image_url": FALLBACK_IMAGE,
            },
        }
    )


def serve_odd(source: Any, cases: list[Case]) -> None:
    """Bend the orders in WooCommerce's answers as the cases say (what the simulator would tidy up)."""
    by_id = {case.order_id: case for case in cases if case.served}
    if not by_id:
        return
    request = source._request

    def bent_request(method: str, endpoint: str, **kwargs: Any) -> Any:
        response = request(method, endpoint, **kwargs)
        body = json_body(response)
        if isinstance(body, list):
            body = [served_order(by_id[raw["id"]], raw) if raw.get("id") in by_id else raw for raw in body]
            response._content = json.dumps(body).encode()
        return response

    source._request = bent_request


def sqlite_ledger(state: Path) -> Any:
    return SqliteLedger.open(state)


def run_passes(
    orders: list[dict[str, Any]], cases: list[Case], state: Path, passes: int = 2, open_ledger=sqlite_ledger
) -> Run:
    """``passes`` passes over the orders; never raises, an escaping exception lands in ``error``."""
    run = Run()
    with (
        WooCommerceSimulator() as woocommerce,
        GoTrackSimulator() as gotrack,
        OrderRepoSimulator(allowed_origins=(ORIGIN,)) as orderrepo,
    ):
        woocommerce.add_orders(orders)
        settings = settings_for(woocommerce, gotrack, orderrepo, state)
        ledger = open_ledger(state)
        engine = build_engine(settings, ledger, threading.Event())
        serve_odd(engine.source, cases)
        try:
            engine.startup()
            for _ in range(passes):
                run.summaries.append(engine.sync_pass())
        except Exception:  # noqa: BLE001 - reported by the tests, with the traceback
            run.error = traceback.format_exc()
        finally:
            engine.close()
        for order in (order for order in orders if order["id"] < 2**63):  # (a larger one no ledger can hold)
            for platform in PLATFORMS:
                row = ledger.delivery(order["id"], platform)
                if row is not None:
                    run.rows[(order["id"], platform)] = row
        ledger.close()
        gotrack_orders = gotrack.orders()
        orderrepo_orders = orderrepo.orders()
    run.held = {
        "gotrack": Counter(stored["external_order_id"] for stored in gotrack_orders),
        "orderrepo": Counter(stored["external_id"] for stored in orderrepo_orders),
    }
    run.landed = {
        "gotrack": {stored["external_order_id"]: stored["payload"] for stored in gotrack_orders},
        "orderrepo": {stored["external_id"]: stored["payload"] for stored in orderrepo_orders},
    }
    run.stored_totals = {
        "gotrack": {stored["external_order_id"]: stored["order"]["total_selling_price"] for stored in gotrack_orders},
        "orderrepo": {stored["external_id"]: stored["order"]["total"] for stored in orderrepo_orders},
    }
    return run


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    open_ledger = sqlite_ledger
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        open_ledger = lambda state: open_postgres(url, shop_id="bad-input.example", password=POSTGRES_PASSWORD)  # noqa: E731
    orders = [*VALID, *(case.order for case in CASES)]
    return run_passes(orders, list(CASES), tmp_path_factory.mktemp("corpus"), open_ledger=open_ledger)


def total_problems(run: Run, order: dict[str, Any], platform: str) -> list[str]:
    """A delivered order's total as the platform stored it, against WooCommerce's."""
    key = str(order["id"])
    total = Decimal(str(order["total"]))
    if platform == "gotrack":
        stored = Decimal(str(run.stored_totals["gotrack"][key]))
        return [] if stored == total else [f"GoTrack stored total {stored}, WooCommerce says {total}"]
    currency = str(order["currency"]).upper()
    if currency not in MINOR_UNITS:
        return []
    expected = int((total * 10 ** MINOR_UNITS[currency]).to_integral_value())
    stored = int(run.stored_totals["orderrepo"][key])
    return [] if stored == expected else [f"OrderRepo stored total {stored}, expected {expected} minor units"]


def outcome_problems(run: Run, order: dict[str, Any]) -> list[str]:
    """What must hold for any order, odd or not: final, explained, and on each platform at most once."""
    problems = []
    for platform in PLATFORMS:
        row = run.rows.get((order["id"], platform))
        if row is None:
            problems.append(f"{platform}: no ledger row")
            continue
        state, reason = row["state"], (row["last_error"] or "").strip()
        held = run.held[platform][str(order["id"])]
        if state == "delivered":
            if held != 1:
                problems.append(f"{platform}: delivered in the ledger, held {held} times by the platform")
            else:
                problems += total_problems(run, order, platform)
        elif state == "rejected":
            if not reason or "Traceback" in reason or "internal error" in reason:
                problems.append(f"{platform}: rejected without a plain reason: {reason!r}")
            if held:
                problems.append(f"{platform}: rejected in the ledger but the platform holds it {held} times")
        else:
            problems.append(f"{platform}: left {state!r} after the pass ({reason})")
    return problems


def test_passes_do_not_raise(corpus: Run) -> None:
    assert corpus.error is None, corpus.error


def test_valid_orders_land_everywhere_in_the_first_pass(corpus: Run) -> None:
    for order in VALID:
        assert outcome_problems(corpus, order) == []
        for platform in PLATFORMS:
            assert corpus.rows[(order["id"], platform)]["state"] == "delivered"
    # Nothing was left for a later pass: not one retry, not one pause.
    first = corpus.summaries[0]
    assert (first.retrying, first.paused, first.source_error) == (0, 0, None)


def test_summary_counts_add_up(corpus: Run) -> None:
    first, second = corpus.summaries
    states = Counter(row["state"] for row in corpus.rows.values())
    orders = len(VALID) + len(CASES)
    assert len(corpus.rows) == orders * len(PLATFORMS)
    assert states["delivered"] + states["rejected"] == orders * len(PLATFORMS)
    assert first.fetched >= orders
    assert first.delivered == states["delivered"]
    assert first.rejected == states["rejected"]  # refused by us or by the platform, each once
    # A row is new when it had a payload to send: it went out and was delivered or refused there.
    refused_by_platform = sum(
        1 for row in corpus.rows.values() if row["state"] == "rejected" and row["payload"] is not None
    )
    assert first.new == states["delivered"] + refused_by_platform
    # The second pass re-reads the same orders (they are inside the overlap) and sends nothing.
    assert (second.new, second.changed, second.delivered, second.rejected) == (0, 0, 0, 0)
    assert second.source_error is None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.slug)
def test_odd_order(corpus: Run, case: Case) -> None:
    problems = outcome_problems(corpus, case.order)
    assert not problems, f"{case.what}: {problems}"  # never acceptable, known gap or not
    expected_problems = []
    for platform in PLATFORMS:
        expected = getattr(case, platform)
        row = corpus.rows[(case.order_id, platform)]
        if expected == DELIVERED:
            if row["state"] != "delivered":
                expected_problems.append(f"{platform}: expected delivered, got rejected: {row['last_error']}")
        elif row["state"] != "rejected" or not re.search(expected, row["last_error"] or ""):
            expected_problems.append(
                f"{platform}: expected a rejection matching {expected!r}, got {row['state']}: {row['last_error']}"
            )
    if case.check is not None and not expected_problems:
        landed = {platform: corpus.landed[platform].get(str(case.order_id)) for platform in PLATFORMS}
        expected_problems += case.check(landed)
    assert not expected_problems, f"{case.what}: {expected_problems}"


@pytest.mark.parametrize("slug", UNDATED)
def test_undated_order_on_an_early_page(tmp_path: Path, slug: str) -> None:
    (case,) = [c for c in CASES if c.slug == slug]
    # Older than the valid orders (the last 14 days), so it sits on the first page of three, not the last.
    stamp = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S")
    order = {**case.order, "date_modified_gmt": stamp, "date_modified": None, "date_created_gmt": stamp}
    order["date_created"] = None
    valid = generate_orders(25, seed=4, start_id=1)
    run = run_passes([*valid, order], [case], tmp_path, passes=1)
    assert run.error is None, run.error
    for raw in [*valid, order]:
        assert outcome_problems(run, raw) == []
    for platform in PLATFORMS:
        assert re.search(getattr(case, platform), run.rows[(case.order_id, platform)]["last_error"] or "")


def test_a_failing_pass_shows_in_status_healthz_and_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass whose recording fails (a bug, say) is reported everywhere, and what is due still goes out."""
    import urllib.error
    import urllib.request

    from sync_daemon.cli import render
    from sync_daemon.service.intake import Intake

    with (
        WooCommerceSimulator() as woocommerce,
        GoTrackSimulator() as gotrack,
        OrderRepoSimulator(allowed_origins=(ORIGIN,)) as orderrepo,
    ):
        woocommerce.add_orders(generate_orders(3, seed=5, start_id=1))
        settings = settings_for(woocommerce, gotrack, orderrepo, tmp_path)
        settings = settings.model_copy(update={"server": settings.server.model_copy(
            update={"enabled": True, "listen": "127.0.0.1:0"})})
        intake = Intake(settings)
        ledger = SqliteLedger.open(tmp_path)
        engine = build_engine(settings, ledger, threading.Event())
        try:
            intake.attach(ledger)
            intake.start(lambda *args: None, lambda *args: None, lambda only: None)
            engine.startup()
            intake.poll_timer()(engine.sync_pass())  # a good pass first: healthy
            host, port = intake.listener.address

            def get(path: str) -> tuple[int, str]:
                try:
                    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30) as answer:
                        return answer.status, answer.read().decode()
                except urllib.error.HTTPError as error:
                    return error.code, error.read().decode()

            assert get("/healthz")[0] == 200
            recent = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)  # after the cursor
            later = [make_order(order_id, created=recent) for order_id in (10, 11)]
            woocommerce.add_orders(later)

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("a bug in recording")

            monkeypatch.setattr(ledger, "ingest", broken)
            summary = engine.sync_pass()  # must not raise
            intake.poll_timer()(summary)
            assert summary.error is not None and "a bug in recording" in summary.error
            status, body = get("/healthz")
            assert status == 503 and "the last pass failed" in body and "a bug in recording" in body
            metrics = get("/metrics")[1]
            assert 'sync_daemon_polls_total{result="error"} 1.0' in metrics
            assert "sync_daemon_last_pass_failed 1.0" in metrics
            data = ledger.summary()
            assert data["last_poll_result"] == "error" and "a bug in recording" in data["last_poll_error"]
            with render.console.capture() as captured:
                render.print_summary(data)
            assert "(error)" in captured.get() and "a bug in recording" in captured.get()
            # The next good pass clears it.
            monkeypatch.undo()
            intake.poll_timer()(engine.sync_pass())
            assert get("/healthz")[0] == 200
            assert "sync_daemon_last_pass_failed 0.0" in get("/metrics")[1]
            assert [ledger.delivery(order["id"], "gotrack")["state"] for order in later] == ["delivered"] * 2
        finally:
            intake.stop()
            engine.close()
            ledger.close()


@pytest.mark.parametrize("order_id", [2**63, 10**30])
def test_an_order_id_no_ledger_can_hold_is_left_out_and_counted(tmp_path: Path, order_id: int) -> None:
    valid = generate_orders(12, seed=7, start_id=1)
    huge = {**make_order(1), "id": order_id}  # WooCommerce's ids are unsigned 64-bit; the ledger's signed
    run = run_passes([*valid, huge], [], tmp_path, passes=1)
    assert run.error is None, run.error
    assert run.summaries[0].unstorable == 1 and run.summaries[0].error is None
    for raw in valid:
        assert outcome_problems(run, raw) == []
