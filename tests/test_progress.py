"""Progress of a long pass: what the engine tells, how often the daemon passes it on, how ``status`` shows it."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta

from rich.console import Console

from sync_daemon.app import build_engine
from sync_daemon.config import Settings
from sync_daemon.engine.progress import PassProgress
from sync_daemon.ledger import PASS_PROGRESS_KEY, SqliteLedger
from sync_daemon.service.progress import ProgressReporter
from sync_daemon.simulators.orders import make_order

CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def test_the_engine_tells_read_total_and_delivered_as_they_grow(woocommerce, gotrack, tmp_path):
    woocommerce.add_orders([make_order(order_id, created=CREATED + timedelta(seconds=order_id))
                            for order_id in range(1, 26)])
    settings = Settings.model_validate({
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret, "per_page": 10},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret},
    })
    steps: list[PassProgress] = []
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(settings, ledger, threading.Event(), report_progress=steps.append)
    try:
        engine.startup()
        summary = engine.sync_pass()
    finally:
        engine.close()
        ledger.close()
    assert summary.delivered == 25
    assert {step.total for step in steps} == {25}  # the first page's X-WP-Total
    assert all(step.backfill for step in steps)  # no cursor yet: the first sync
    reads = [step.read for step in steps]
    delivered = [step.delivered for step in steps]
    assert reads == sorted(reads) and delivered == sorted(delivered)
    assert reads[0] == 10 and reads[-1] == 25  # page by page, never more than the total
    assert delivered[-1] == 25 and delivered[0] < 25
    assert steps[-1].describe().startswith("backfill: ")


class FakeNotifier:
    """Records systemd status lines."""

    def __init__(self):
        self.lines = []

    def status(self, text):
        self.lines.append(text)


def test_the_reporter_shows_a_long_pass_only_and_clears_it_after(tmp_path, captured_logs):
    now = [0.0]
    ledger = SqliteLedger.open(tmp_path)
    notifier, shown = FakeNotifier(), []
    reporter = ProgressReporter(ledger, notifier, display=shown.append, clock=lambda: now[0],
                                wall_clock=lambda: 1_800_000_000.0 + now[0])
    try:
        reporter.report(PassProgress(100, 4040, 0, True))  # the pass starts: nothing shown yet
        assert (notifier.lines, shown, ledger.get_meta(PASS_PROGRESS_KEY)) == ([], [], None)
        for second in range(1, 13):
            now[0] = float(second)
            reporter.report(PassProgress(100 * second, 4040, 50 * second, True))
        assert notifier.lines[0] == "backfill: 100 of 4 040 read, 50 delivered"
        assert notifier.lines[-1] == "backfill: 1 200 of 4 040 read, 600 delivered"
        stored = json.loads(ledger.get_meta(PASS_PROGRESS_KEY))
        assert (stored["read"], stored["total"], stored["delivered"]) == (1100, 4040, 550)  # every 2 s
        logged = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
        assert [(line["read"], line["total"]) for line in logged if line["event"] == "pass progress"] == [(1000, 4040)]
        assert shown[-1] == PassProgress(1200, 4040, 600, True)
        reporter.finish()
        assert ledger.get_meta(PASS_PROGRESS_KEY) is None
        assert shown[-1] is None  # the bar taken down
    finally:
        ledger.close()


def test_status_shows_the_stored_progress(monkeypatch):
    from sync_daemon.cli import render

    buffer = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=buffer, width=200))
    data = {"counts": {}, "orders_seen": 0, "cursor": None, "last_poll_at": None, "last_poll_result": None,
            "last_poll_error": None, "destinations": {},
            "pass_progress": {"read": 1200, "total": 4040, "delivered": 2100, "backfill": True,
                              "started_at": "2026-12-07T15:00:00+00:00", "updated_at": "2026-12-07T15:00:49+00:00"}}
    render.print_summary(data)
    assert ("pass in progress since 2026-12-07T15:00:00+00:00: backfill: 1 200 of 4 040 read, 2 100 delivered"
            " (as of 2026-12-07T15:00:49+00:00)") in buffer.getvalue()


def test_the_terminal_bar_prints_log_lines_above_it_and_goes_when_the_pass_ends():
    from sync_daemon.cli.progress import TerminalProgress

    buffer = io.StringIO()
    bar = TerminalProgress(Console(file=buffer, force_terminal=True, width=120))
    bar(PassProgress(1200, 4040, 2100, True))
    bar.write("pass progress [read=1200]\n")  # a log line, brackets and all
    bar(PassProgress(1300, 4040, 2200, True))
    bar(None)
    out = buffer.getvalue()
    assert "pass progress [read=1200]" in out
    assert "1300/4040" in out and "2200 delivered" in out
    assert bar.isatty()
