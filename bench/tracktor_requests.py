"""Tracktor requests per hour for 5 000 open tracked orders: polling only vs webhooks on.

    python bench/tracktor_requests.py                           # 5 000 orders, 200 webhooks an hour, 6 hours
    python bench/tracktor_requests.py --webhooks-per-hour 1000  # a busier shop

Counted, not computed: the daemon's own code runs in this process (``Daemon`` from the runner, its
ledger, its engine, its Tracktor status source, the listener's WSGI app and the hint box) against a
Tracktor simulator that counts every request it answers. Only the clock is compressed: nothing waits,
the script calls the jobs the scheduler would call at their simulated times:

- the tracking pull, every ``tracktor.poll_interval_seconds`` (600 s), or with ``webhooks_active``
  every ``webhook_backstop_interval_seconds`` (21 600 s) — the interval the daemon schedules is read
  from the daemon itself;
- with webhooks on, ``--webhooks-per-hour`` webhooks spread evenly over each hour, each for one order
  whose shipment just moved in the simulator, posted to the listener (a fulfillment object as the body,
  which names its order); the job the hint queues runs at once (the worker is free), so no two
  webhooks are coalesced: an upper bound.

Default rate: a shipment moves about three times after it is ready (in transit, out for delivery,
delivered) and an order is open for about three days, so 5 000 open orders send 5 000 × 3 / 72 ≈ 200
webhooks an hour. Orders stay open here (the simulator moves them between in transit and out for
delivery), so 5 000 are followed all along.

A third column shows what a webhook whose body names no order costs (it has every due order read,
as every webhook did before webhooks named their orders): measured over ``--unnamed-sample`` webhooks
and scaled to the rate, since running an hour of it would take hours.

Six simulated hours by default: one backstop period, so the backstop is counted once, not zero or
one times per hour by chance.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import socketserver
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import table  # noqa: E402
from sync_daemon.config import Settings  # noqa: E402
from sync_daemon.core import logs  # noqa: E402
from sync_daemon.core.outcome import IngestItem  # noqa: E402
from sync_daemon.service.listener import ListenerApp, Routes  # noqa: E402
from sync_daemon.service.runner import Daemon, status_job  # noqa: E402
from sync_daemon.simulators.tracktor import TracktorSimulator  # noqa: E402

SOURCE = "tracktor"
TOKEN = "bench-tracktor-token-0123456789"
ORDER_ROUTE = "/apps/tracktor/api/admin/{uuid}/orders/{order_id}.json"
FIRST_ORDER = 100_000
INGEST_PAGE = 100
# Nagle off on the simulator's sockets, as bench/_simulators.py does: otherwise each answer waits for a
# delayed ACK (~40 ms) and the run measures that, not the requests (their number does not change).
socketserver.StreamRequestHandler.disable_nagle_algorithm = True


class Run:
    """One daemon (in this process) following ``orders`` tracked orders in a fresh simulator and ledger."""

    def __init__(self, workdir: Path, orders: int, *, webhooks: bool) -> None:
        self.sim = TracktorSimulator().start()
        self.ids = [FIRST_ORDER + index for index in range(orders)]
        for order_id in self.ids:
            self.sim.add_order(order_id, [{"carrier": "Pathao", "tracking_number": f"PX{order_id}",
                                           "shipment_status": "in_transit"}])
        self.settings = Settings.model_validate({
            "state_dir": str(workdir / ("webhooks" if webhooks else "polling")),
            # WooCommerce is never called: only the Tracktor jobs run.
            "woocommerce": {"url": "http://127.0.0.1:9", "consumer_key": "ck_bench", "consumer_secret": "cs_bench"},
            "server": {"tracktor_secret": TOKEN},
            "writeback": {"enabled": False},
            "tracktor": {"enabled": True, **self.sim.credentials, "order_id_source": "order_id",
                         "webhooks_active": webhooks},
        })
        self.daemon = Daemon(self.settings, None)
        now = time.time()
        for start in range(0, orders, INGEST_PAGE):
            page = self.ids[start : start + INGEST_PAGE]
            self.daemon.ledger.ingest(
                [IngestItem(n, str(n), "m", "processing", [], tracking_id=str(n)) for n in page], now=now
            )
        self.queued: list[Any] = []
        intake = self.daemon.intake
        intake.start(lambda function, name: self.queued.append(function), self.daemon._guarded,  # noqa: SLF001
                     self.daemon._pull_tracking_now)  # noqa: SLF001
        self.app = ListenerApp(Routes(lambda: self.settings.server, intake.hints, intake.metrics, None,
                                      intake.tracktor_hints))
        self.moves = 0

    def pull_job(self) -> tuple[Any, float]:
        """The scheduled tracking pull and its interval, as the daemon schedules them."""
        for job_id, function, seconds, wanted in self.daemon._jobs(self.settings):  # noqa: SLF001
            if job_id == status_job(SOURCE) and wanted:
                return function, seconds
        raise RuntimeError("the daemon schedules no tracking pull")

    def webhook(self, order_id: int | None) -> None:
        """Tracktor tells: the order's shipment moved (None: a body that names no order)."""
        body = b"{}"
        if order_id is not None:
            self.moves += 1
            self.sim.advance(order_id, "out_for_delivery" if self.moves % 2 else "in_transit")
            body = json.dumps(self.sim.order(order_id)["fulfillments"][0]).encode()
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/webhooks/tracktor/{TOKEN}", "QUERY_STRING": "",
                   "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)), "wsgi.input": _Body(body)}
        status, answer, _ = self.app.handle(environ)
        if status != 200:
            raise RuntimeError(f"the listener answered {status}: {answer!r}")
        while self.queued:  # the scheduler's worker is free: the queued read runs now
            self.queued.pop(0)()

    def requests(self) -> int:
        """Tracking requests Tracktor answered so far."""
        return self.sim.count("GET", ORDER_ROUTE)

    def close(self) -> None:
        """Close the daemon's engine, ledger and lock, and stop the simulator."""
        self.daemon.engine.close()
        self.daemon.ledger.close()
        if self.daemon.lock is not None:
            self.daemon.lock.release()
        self.sim.stop()


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        return self.data


def simulate(run: Run, hours: float, webhooks_per_hour: float) -> dict[str, float]:
    """Play ``hours`` of schedule and webhooks; Tracktor requests (counted by the simulator) and wall time."""
    pull, interval = run.pull_job()
    horizon = hours * 3600
    events = [(interval * k, "pull") for k in range(1, int(horizon // interval) + 1)]
    count = round(webhooks_per_hour * hours)
    events += [((index + 0.5) * horizon / count, "webhook") for index in range(count)]
    rng = random.Random(16)
    spent = {"pull": 0, "webhook": 0}
    started = time.perf_counter()
    for _, kind in sorted(events):
        before = run.requests()
        if kind == "pull":
            pull()
        else:
            run.webhook(rng.choice(run.ids))
        spent[kind] += run.requests() - before
    return {"pull_requests": spent["pull"], "webhook_requests": spent["webhook"], "interval": interval,
            "pulls": int(horizon // interval), "webhooks": count, "seconds": time.perf_counter() - started}


def per_webhook_unnamed(run: Run, sample: int) -> float:
    """Tracktor requests one webhook naming no order costs (the mean over ``sample`` of them)."""
    before = run.requests()
    for _ in range(sample):
        run.webhook(None)
    return (run.requests() - before) / sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=5000, help="open tracked orders (5000)")
    parser.add_argument("--webhooks-per-hour", type=float, default=200, help="Tracktor webhooks an hour (200)")
    parser.add_argument("--hours", type=float, default=6, help="simulated hours (6: one backstop period)")
    parser.add_argument("--unnamed-sample", type=int, default=5, help="webhooks naming no order measured (5)")
    args = parser.parse_args(argv)
    logs.configure("warning")  # one "statuses changed" line per webhook would bury the figures
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="sync-daemon-tracktor-") as tmp:
        for webhooks in (False, True):
            print(f"{'webhooks on' if webhooks else 'polling only'}: {args.orders} orders …", file=sys.stderr)
            run = Run(Path(tmp), args.orders, webhooks=webhooks)
            try:
                rate = args.webhooks_per_hour if webhooks else 0
                figures["webhooks" if webhooks else "polling"] = simulate(run, args.hours, rate)
                if webhooks:
                    figures["webhooks"]["unnamed"] = per_webhook_unnamed(run, args.unnamed_sample)
            finally:
                run.close()
                for number, handler in handlers.items():  # the daemon installed its own
                    signal.signal(number, handler)
    print(report(figures["polling"], figures["webhooks"], args))
    return 0


def report(polling: dict[str, float], told: dict[str, float], args: argparse.Namespace) -> str:
    """Both runs side by side, per simulated hour."""
    hours, rate = args.hours, args.webhooks_per_hour

    def hourly(value: float) -> str:
        return f"{value / hours:,.0f}"

    per_webhook = told["webhook_requests"] / max(told["webhooks"], 1)
    unnamed_reads = rate * told["unnamed"] * hours  # as many hours of them, scaled from the sample
    rows = [
        ["Tracktor requests per hour", hourly(polling["pull_requests"]),
         hourly(told["pull_requests"] + told["webhook_requests"]), hourly(told["pull_requests"] + unnamed_reads)],
        ["  scheduled pulls", hourly(polling["pull_requests"]), hourly(told["pull_requests"]),
         hourly(told["pull_requests"])],
        ["  reads after a webhook", "0", hourly(told["webhook_requests"]), hourly(unnamed_reads)],
        ["requests per webhook", "–", f"{per_webhook:.2f}", f"{told['unnamed']:,.0f} (mean of {args.unnamed_sample})"],
        ["tracking pull every", f"{polling['interval']:.0f} s", f"{told['interval']:.0f} s (backstop)",
         f"{told['interval']:.0f} s (backstop)"],
        ["pulls, webhooks played", f"{polling['pulls']:.0f}, 0", f"{told['pulls']:.0f}, {told['webhooks']:.0f}",
         f"{told['pulls']:.0f}, {args.unnamed_sample} (then scaled)"],
        ["wall time", f"{polling['seconds']:.1f} s", f"{told['seconds']:.1f} s", "–"],
    ]
    title = (f"== Tracktor requests, {args.orders:,} open tracked orders, {hours:g} simulated hours, "
             f"{rate:g} webhooks an hour ==")
    return title + "\n" + table(rows, ["", "polling only", "webhooks on", "webhooks on, bodies naming no order"])


if __name__ == "__main__":
    sys.exit(main())
