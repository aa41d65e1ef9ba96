"""Retention: the ledger's size and `status` time over a simulated year, without and with pruning.

    python bench/retention.py                     # 180 000 orders over 365 days (≈ 500 a day), 90-day retention
    python bench/retention.py --orders 20000      # quicker, same shape

No HTTP and no daemon process: a year is written straight through the ledger API into two ledgers
side by side, the same operations into both, as the daemon would write them:

- each day's new orders (``processing``) are read in pages of 100 and mapped by the real mappings of
  GoTrack, OrderRepo and ShopBack (about one order in ten carries a ShopBack click id; the others are
  ``skipped`` there); every row is sent: 5 % first fail and are retried, 1 % are rejected, 0.2 % die;
- three days later 93 % are completed and 5 % cancelled (read again: OrderRepo gets an update, GoTrack
  notes the edit), and 2 % stay ``processing`` for good (open orders, which retention keeps);
- OrderRepo's statuses (``new``, then ``done``/``cancelled``) are pulled and written back.

One ledger keeps everything; the other is pruned once a simulated day with ``[ledger] retention_days``
(the daemon prunes hourly in batches; a day's worth at once is the same work). At the end of every
month it prints both files' sizes (database + WAL), and at the end of every quarter the time of the
real ``sync-daemon status`` (a child process, best of 3) on each. Finally retention is switched on for
the ledger that kept everything (a year-old ledger upgraded to this version): how many of the daemon's
hourly runs, and how long, it takes to catch up, and the longest single batch (the daemon's other
writes wait at most that long).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, child_env, table  # noqa: E402
from sync_daemon.app import PRUNE_BATCH_ORDERS, build_engine, prune_ledger  # noqa: E402
from sync_daemon.config import Settings  # noqa: E402
from sync_daemon.core.outcome import Outcome  # noqa: E402
from sync_daemon.core.retry import RetryPolicy  # noqa: E402
from sync_daemon.ledger import Ledger, SqliteLedger  # noqa: E402
from sync_daemon.service.runner import PRUNE_BATCHES_PER_RUN  # noqa: E402
from sync_daemon.simulators.orders import generate_orders  # noqa: E402

DAY = 86400.0
START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
DESTINATIONS = ("gotrack", "orderrepo", "shopback")
COMPLETED_AFTER_DAYS = 3
POOL = 2000  # distinct generated orders, reused with new ids (generating 180 000 would only cost time)
POLICY = RetryPolicy([5, 300, 1800, 7200, 14400, 28800, 43200], jitter=0)
MIB = 1024 * 1024


def settings_for(state_dir: Path, retention_days: int) -> Settings:
    """Three delivering platforms (placeholder credentials: nothing is sent) and the retention asked for."""
    return Settings.model_validate({
        "state_dir": str(state_dir),
        "woocommerce": {"url": "https://shop.example.com", "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "gotrack": {"enabled": True, "api_key": "fbc_x", "api_secret": "s"},
        "orderrepo": {"enabled": True, "api_key": "k", "fallback_image_url": "https://shop.example.com/p.png"},
        "shopback": {"enabled": True, "offer_id": "1", "security_token": "a" * 32},
        "ledger": {"retention_days": retention_days},
    })


class Shop:
    """Raw WooCommerce orders on demand, mapped by the real platform mappings."""

    def __init__(self, scratch: Path) -> None:
        settings = settings_for(scratch, 0)
        self._ledger = SqliteLedger.open(scratch)
        self.engine = build_engine(settings, self._ledger, threading.Event())
        self.pool = generate_orders(POOL, seed=17)
        self.meta_key = settings.shopback.transaction_id_meta_key

    def mapped(self, order_id: int, status: str, moment: float) -> Any:
        """The order as a poll at ``moment`` would record it."""
        raw = dict(self.pool[order_id % POOL])
        stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        raw.update(id=order_id, number=str(order_id), status=status, date_modified_gmt=stamp, date_modified=stamp)
        if order_id % 10 == 0:  # came from a ShopBack click
            raw["meta_data"] = [*raw.get("meta_data", []), {"key": self.meta_key, "value": f"sb-{order_id}"}]
        return self.engine.map_raw(raw)

    def close(self) -> None:
        """Close the scratch engine and ledger."""
        self.engine.close()
        self._ledger.close()


def pages(items: list[Any], size: int = 100) -> Iterator[list[Any]]:
    """Pages as the poll reads them."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def send_due(ledger: Ledger, now: float, seed: int) -> None:
    """Every due row goes out once; the same seed gives the same outcomes in both ledgers."""
    rng = random.Random(seed)
    for destination in DESTINATIONS:
        due = ledger.due(destination, now=now, limit=100_000)
        ledger.mark_sending(due, now=now)
        outcomes = []
        for row in due:
            roll = rng.random()
            if roll < 0.05 and row.attempts == 0:
                kind, fields = "retry", {"message": "HTTP 503 Service Unavailable", "http_status": 503}
            elif roll < 0.06:
                kind, fields = "rejected", {"message": "422 customer.phone: invalid", "http_status": 422}
            elif roll < 0.062:
                kind, fields = "retry", {"message": "unexpected answer", "http_status": 200, "max_attempts": 1}
            else:
                kind, fields = "delivered", {"remote_id": f"R{row.order_id}", "http_status": 201}
            outcome = Outcome(row.order_id, destination, kind, row.operation, payload_hash=row.payload_hash,
                              duration_ms=rng.randint(80, 900), **fields)
            outcomes.append(POLICY.stamp(outcome, attempts_before=row.attempts))
        ledger.record(outcomes, now=now)


def write_back(ledger: Ledger, statuses: list[tuple[int, str]], now: float) -> None:
    """OrderRepo's statuses pulled, then written back (``new`` is only remembered)."""
    ledger.update_remote_statuses("orderrepo", [(order_id, status, None) for order_id, status in statuses], now=now)
    for order_id, status in statuses:
        if status == "new":
            entry = {"source": "orderrepo", "remote_status": "new", "action": "nothing to do", "note": None}
        else:
            entry = {"source": "orderrepo", "remote_status": status, "action": f"noted; already {status}",
                     "detail": f"OrderRepo: {status}", "note": f"OrderRepo: {status}"}
        ledger.record_writeback(order_id, [entry], written_status=None, now=now)


def simulate_day(ledger: Ledger, shop: Shop, day: int, per_day: list[range], cache: dict[Any, Any]) -> None:
    """One day of a shop: new orders, retries, completions of three days ago, statuses written back."""
    start = START + day * DAY
    new = per_day[day]
    items = cache.setdefault(("new", day), [shop.mapped(order_id, "processing", start + 10 * 3600) for order_id in new])
    for page in pages(items):
        ledger.ingest(page, now=start + 10 * 3600)
    send_due(ledger, start + 10 * 3600, seed=day * 10 + 1)
    send_due(ledger, start + 11 * 3600, seed=day * 10 + 2)  # the retries, 5 s later (or more)
    closing = per_day[day - COMPLETED_AFTER_DAYS] if day >= COMPLETED_AFTER_DAYS else range(0)
    final = {order_id: ("completed" if order_id % 100 < 93 else "cancelled") for order_id in closing
             if order_id % 100 < 98}  # 2 % stay processing for good
    changed = cache.setdefault(("closed", day), [shop.mapped(order_id, status, start + 12 * 3600)
                                                 for order_id, status in final.items()])
    for page in pages(changed):
        ledger.ingest(page, now=start + 12 * 3600)
    send_due(ledger, start + 12 * 3600, seed=day * 10 + 3)
    remote = [(order_id, "new") for order_id in new]
    remote += [(order_id, "done" if status == "completed" else "cancelled") for order_id, status in final.items()]
    write_back(ledger, remote, start + 13 * 3600)


def status_seconds(state_dir: Path, runs: int = 3) -> float:
    """Best wall time of the real ``sync-daemon status`` (a whole process: start-up included)."""
    config = state_dir.parent / f"{state_dir.name}.toml"
    config.write_text(f'state_dir = "{state_dir}"\n')
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sync_daemon", "status", "--config", str(config)], check=True,
                       capture_output=True, cwd=ROOT, env=child_env())
        best = min(best, time.perf_counter() - started)
    return best


def summary_ms(ledger: Ledger, runs: int = 3) -> float:
    """Best time of the ledger queries behind `status` (``summary``), in this process."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        ledger.summary()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def empty_ledger(work: Path) -> Path:
    """A state directory with a new, empty ledger."""
    SqliteLedger.open(work / "empty").close()
    return work / "empty"


def catch_up(ledger: Ledger, settings: Settings, now: float) -> dict[str, Any]:
    """Retention switched on for a ledger that kept a year: the daemon's hourly runs until none is left."""
    steps: list[float] = []
    last = time.perf_counter()

    def step() -> None:
        nonlocal last
        moment = time.perf_counter()
        steps.append(moment - last)
        last = moment

    started = time.perf_counter()
    runs, orders = 0, 0
    while True:
        runs += 1
        last = time.perf_counter()
        result = prune_ledger(settings, ledger, now=now, max_batches=PRUNE_BATCHES_PER_RUN, on_progress=step)
        orders += result.orders if result else 0
        if result is None or not result.more_left:
            break
    return {"runs": runs, "orders": orders, "seconds": time.perf_counter() - started, "longest_step": max(steps)}


def main() -> int:
    """Run the simulated year and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=180_000, help="orders over the year (default 180 000)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--retention-days", type=int, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the two ledgers (their directory is printed)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sync-daemon-retention-"))
    kept_dir, pruned_dir = work / "kept", work / "pruned"
    kept, pruned = SqliteLedger.open(kept_dir), SqliteLedger.open(pruned_dir)
    retention = settings_for(pruned_dir, args.retention_days)
    shop = Shop(work / "scratch")
    per_day = [range(1 + args.orders * day // args.days, 1 + args.orders * (day + 1) // args.days)
               for day in range(args.days)]
    rows, quarters = [], []
    began = time.perf_counter()
    try:
        for day in range(args.days):
            cache: dict[Any, Any] = {}  # the same mapped orders go into both ledgers
            simulate_day(kept, shop, day, per_day, cache)
            simulate_day(pruned, shop, day, per_day, cache)
            prune_ledger(retention, pruned, now=START + day * DAY + 23 * 3600)
            month = (day + 1) * 12 // args.days
            if month != day * 12 // args.days:
                rows.append([month, per_day[day].stop - 1, f"{kept.file_bytes() / MIB:.1f} MiB",
                             f"{pruned.file_bytes() / MIB:.1f} MiB", pruned.summary()["orders_seen"]])
                print(*rows[-1], flush=True)
                if month % 3 == 0:
                    quarters.append([month, f"{status_seconds(kept_dir):.2f} s", f"{status_seconds(pruned_dir):.2f} s",
                                     f"{summary_ms(kept):.0f} ms", f"{summary_ms(pruned):.0f} ms"])
        simulated = time.perf_counter() - began
        print()
        print(table(rows, ["month", "orders so far", "kept everything", f"{args.retention_days}-day retention",
                           "orders in the pruned ledger"]))
        print()
        print(table(quarters, ["month", "`status`, kept everything", f"`status`, {args.retention_days}-day retention",
                               "its queries, kept", "its queries, retention"]))
        print(f"(`status` on an empty ledger: {status_seconds(empty_ledger(work)):.2f} s — starting Python and"
              " loading the code)")
        summary = pruned.summary()
        print(f"\npruned ledger at the end: {summary['orders_seen']} orders, {summary['pruned_orders']} pruned;"
              f" open orders kept past the window: {open_orders(pruned, START + args.days * DAY, args.retention_days)}")
        kept_settings = settings_for(kept_dir, args.retention_days)
        before = kept.file_bytes()
        caught = catch_up(kept, kept_settings, START + args.days * DAY)
        print(f"retention switched on for the year-old ledger: {caught['orders']} orders pruned in {caught['runs']}"
              f" hourly runs of at most {PRUNE_BATCHES_PER_RUN} batches of {PRUNE_BATCH_ORDERS} orders,"
              f" {caught['seconds']:.1f} s in all; longest batch {caught['longest_step'] * 1000:.0f} ms;"
              f" file {before / MIB:.1f} MiB → {kept.file_bytes() / MIB:.1f} MiB;"
              f" `status` then {status_seconds(kept_dir):.2f} s")
        print(f"simulating took {simulated:.0f} s; whole run {time.perf_counter() - began:.0f} s")
    finally:
        shop.close()
        kept.close()
        pruned.close()
        if args.keep:
            print(f"ledgers kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def open_orders(ledger: Ledger, now: float, retention_days: int) -> int:
    """Orders older than the window that retention keeps because they are still open in the shop."""
    cutoff = datetime.fromtimestamp(now - retention_days * DAY, UTC).isoformat(timespec="milliseconds")
    return int(ledger.db.execute("SELECT COUNT(*) FROM orders WHERE last_seen_at < ?", [cutoff]).fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
