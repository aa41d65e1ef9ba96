"""What receipts cost WooCommerce: its requests during a backfill with ``[writeback] receipts`` off and on.

    python bench/receipts.py                  # 4 000 orders, off (the baseline) then on, in one run
    python bench/receipts.py --orders 2000    # quicker

What runs: the simulators in a process of their own (``python -m sync_daemon.simulators --generate N``,
Nagle off as in ``bench/backfill.py``; the WooCommerce simulator behaves as HPOS: every write bumps
``date_modified``), then twice ``python -m sync_daemon run`` with a fresh ledger, GoTrack and OrderRepo
enabled, everything else at its defaults but ``poll_interval_seconds = 1``: first with receipts off
(the baseline), then on (GoTrack and OrderRepo reset in between; WooCommerce keeps its orders, and
the baseline round writes nothing into them). Each round runs until every delivery is final, every
receipt is written and a pass has read the orders back; the requests WooCommerce answered up to then
are counted (the simulator's own counts, per route), then those of ``--idle-passes`` more passes.

With receipts on, the round then goes on until a pass reads no order (the cursor has passed the
writes) and counts ``--idle-passes`` passes after that.

Printed: WooCommerce's requests per route for both rounds; the extra requests per delivered order
(receipts on minus off, divided by the orders delivered); and what one idle pass reads in each round.
Under HPOS the receipts' write moves every written order's ``date_modified`` to the moment of the
write, so the passes after it read those orders again: once to see that nothing changed (the payload
hash; nothing is sent), and then as long as they lie in the poll's overlap window behind the cursor
(``overlap_seconds``). The cursor moves on by the shop's clock, read from the writes' answers
(``source/shop_clock.py``), so this ends ``overlap_seconds`` + 2 s after the last write; the round
waits that long (about two minutes), with a pass every second re-reading the orders meanwhile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import tomlkit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DaemonProcess, LedgerReader, SimulatorProcess, daemon_config, table  # noqa: E402

LIST = "GET /wp-json/wc/v3/orders"
BATCH = "POST /wp-json/wc/v3/orders/batch"
FINAL = ("delivered", "rejected", "dead", "skipped")
OVERLAP_SECONDS = 120  # [woocommerce] overlap_seconds' default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=4000, help="orders in the backfill (default 4 000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated orders")
    parser.add_argument("--idle-passes", type=int, default=3, help="passes counted after the backfill settled")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a round may take")
    return parser.parse_args(argv)


def wait_for(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` until true; exit with ``what`` when it takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def epoch(stamp: str) -> float:
    """A log line's timestamp as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_round(sims: SimulatorProcess, workdir: Path, *, receipts: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One backfill with receipts on or off: WooCommerce's requests, each given to the pass or job that made it."""
    name = "on" if receipts else "off"
    state_dir = workdir / f"state-{name}"
    config = daemon_config(workdir / f"config-{name}.toml", woocommerce=sims.info["woocommerce"],
                           gotrack=sims.info["gotrack"], orderrepo=sims.info["orderrepo"], state_dir=state_dir)
    document = tomlkit.parse(config.read_text())
    document.setdefault("writeback", tomlkit.table())["receipts"] = receipts
    config.write_text(tomlkit.dumps(document))
    ledger = LedgerReader(state_dir / "ledger.sqlite3")
    begun = time.time()
    daemon = DaemonProcess(config, workdir / f"daemon-{name}.log")
    try:
        def settled() -> bool:
            states = ledger.states()
            rows = sum(sum(counts.values()) for counts in states.values())
            final = sum(counts.get(state, 0) for counts in states.values() for state in FINAL)
            unwritten = ledger.query("SELECT 1 FROM outbox WHERE kind = 'receipt' AND written_at IS NULL LIMIT 1")
            return rows >= 2 * args.orders and final == rows and not unwritten

        wait_for(settled, args.timeout, f"the round with receipts {name} to settle")
        passes = len(daemon.log_events("pass finished"))
        wait_for(lambda: len(daemon.log_events("pass finished")) >= passes + args.idle_passes + 1, args.timeout,
                 "the passes after it")
        delivered = ledger.query("SELECT COUNT(DISTINCT order_id) FROM deliveries WHERE state = 'delivered'")[0][0]
        read_at = time.time()
        log = [entry for entry in sims.admin("woocommerce", "GET", "requests")["requests"] if entry["time"] >= begun]
        quiet = quiet_passes(sims, daemon, log, args) if receipts else None
    finally:
        daemon.stop()
        ledger.close()
    ends = [epoch(event["timestamp"]) for event in daemon.log_events("pass finished")]
    # The passes finished when the log was read, and the requests they made (not those of one under way).
    ends = [end for end in ends if end <= read_at]
    log = [entry for entry in log if entry["time"] <= ends[-1]]
    # Each list request belongs to the first pass that finished after it; writes are counted apart.
    pages = [0] * len(ends)
    for entry in log:
        if f"{entry['method']} {entry['route']}" == LIST:
            index = next((i for i, end in enumerate(ends) if entry["time"] <= end), len(ends) - 1)
            pages[index] += 1
    writes = sum(f"{entry['method']} {entry['route']}" == BATCH for entry in log)
    return {"pages": pages, "writes": writes, "delivered": delivered, "requests": len(log), "quiet": quiet}


def quiet_passes(sims: SimulatorProcess, daemon: DaemonProcess, log: list[dict[str, Any]],
                 args: argparse.Namespace) -> dict[str, float]:
    """Wait for the first pass that reads no order; then the list pages of ``--idle-passes`` passes after it."""
    last_write = max(entry["time"] for entry in log if f"{entry['method']} {entry['route']}" == BATCH)
    start = len(daemon.log_events("pass finished"))

    def fetched() -> list[int]:
        return [event["fetched"] for event in daemon.log_events("pass finished")[start:]]

    wait_for(lambda: 0 in fetched(), args.timeout, "a pass that reads no order")
    quiet_at = epoch(next(event["timestamp"] for event in daemon.log_events("pass finished")[start:]
                          if event["fetched"] == 0))
    rereads = fetched().index(0)
    lists = sims.admin("woocommerce", "GET", "stats")["by_route"].get(LIST, 0)
    done = len(fetched())
    wait_for(lambda: len(fetched()) >= done + args.idle_passes, args.timeout, "the quiet passes")
    pages = sims.admin("woocommerce", "GET", "stats")["by_route"].get(LIST, 0) - lists
    counted = len(fetched()) - done  # a pass may have finished while the stats were read
    return {"seconds": quiet_at - last_write, "rereads": rereads, "pages": pages / max(counted, 1)}


def main(argv: list[str] | None = None) -> int:
    """Run both rounds and print the figures."""
    args = parse_args(argv)
    print(f"generating {args.orders} orders …", flush=True)
    with SimulatorProcess("--storage", "hpos", generate=args.orders, seed=args.seed) as sims, \
            tempfile.TemporaryDirectory(prefix="bench-receipts-") as workdir:
        rounds = {}
        for receipts in (False, True):
            for platform in ("gotrack", "orderrepo"):
                sims.admin(platform, "POST", "reset")
            rounds[receipts] = run_round(sims, Path(workdir), receipts=receipts, args=args)
    off, on = rounds[False], rounds[True]
    idle_off = statistics.mean(off["pages"][-args.idle_passes:])
    # With receipts on: the pass after the writes reads the written orders back; later ones, while the
    # orders lie in the overlap window, read them again.
    after = on["pages"][-args.idle_passes - 1:]
    rows = [
        ["requests to WooCommerce in the round", off["requests"], on["requests"]],
        ["  order list pages of the backfill pass", off["pages"][0], on["pages"][0]],
        ["  orders/batch writes", off["writes"], on["writes"]],
        ["  pages of the pass after the writes", "-", after[0]],
        ["  pages of each later pass while the orders lie in the overlap (mean)", f"{idle_off:.1f}",
         f"{statistics.mean(after[1:]):.1f}"],
        ["  seconds from the last write to the first pass that reads no order", "-",
         f"{on['quiet']['seconds']:.0f}"],
        ["  passes meanwhile that read the written orders again (a pass a second)", "-",
         on["quiet"]["rereads"]],
        ["  pages of each pass after that (mean)", f"{idle_off:.1f}", f"{on['quiet']['pages']:.1f}"],
        ["orders delivered", off["delivered"], on["delivered"]],
    ]
    print(f"\nBackfill of {args.orders} orders to GoTrack and OrderRepo (simulated HPOS shop, per_page 100)")
    print(table(rows, header=["", "receipts off (baseline)", "receipts on"]))
    delivered = max(on["delivered"], 1)
    once = on["writes"] + after[0] - idle_off
    print(f"\nextra WooCommerce requests per delivered order with receipts on: {on['writes'] / delivered:.4f}"
          f" for the writes, {once / delivered:.4f} with the read-back pass; with receipts off: 0 (the baseline)")
    later = statistics.mean(after[1:]) - idle_off
    print(f"each later pass, while the written orders lie in the {OVERLAP_SECONDS} s overlap window behind the"
          f" cursor: {later:+.1f} pages ({later / delivered:.4f} per delivered order); from"
          f" {on['quiet']['seconds']:.0f} s after the last write: {on['quiet']['pages'] - idle_off:+.1f} pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
