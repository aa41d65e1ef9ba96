"""Backfill throughput by ledger: one daemon on SQLite, one on PostgreSQL, two on PostgreSQL (one shop).

    python bench/postgres_throughput.py                   # 2 000 orders, best of 3 rounds, durable server
    python bench/postgres_throughput.py --fast            # the test cluster's settings (fsync=off …)
    python bench/postgres_throughput.py --orders 500 --rounds 1

What runs, in one go so the figures share one machine and one moment:

1. ``python -m sync_daemon.simulators --generate N`` in a process of its own (through
   ``bench/_simulators.py``, Nagle off), and a throw-away PostgreSQL cluster (``bench/_postgres.py``).
   By default the cluster runs with PostgreSQL's durable defaults (``fsync``, ``synchronous_commit``
   and ``full_page_writes`` on: every commit waits for its WAL flush), as a production server does;
   ``--fast`` starts it as the tests do (all three off). The settings are printed with the figures.
2. Each round, one after the other, with GoTrack and OrderRepo reset before each: the real
   ``sync-daemon run`` with the daemon's defaults (concurrency, batch size, timeouts) on
   - SQLite: a fresh state directory (WAL, ``synchronous=NORMAL``: the daemon's own setting);
   - PostgreSQL, one daemon: a fresh database;
   - PostgreSQL, two daemons: a fresh database, both started together on one config (one shop; one
     leads and reads WooCommerce, both deliver).
   Each runs until every order is delivered to both platforms, then gets SIGTERM.

Figures: orders/s from the (first) daemon's "started" line to the last delivery in the ledger (what
the backfill itself takes) and the wall time from starting the process(es) to the end (start-up
included). The headline takes each setup's best round, as bench/backfill.py does: other processes
on the machine only ever slow a round down. After each round the platforms must hold each order
exactly once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    ACTIVE_STATES,
    DaemonProcess,
    LedgerReader,
    SimulatorProcess,
    daemon_config,
    table,
)
from bench._postgres import Cluster, PostgresLedgerReader, add_ledger_section  # noqa: E402

DESTINATIONS = ("gotrack", "orderrepo")
SHOP_ID = "throughput.example.com"
SETUPS = ("SQLite, 1 daemon", "PostgreSQL, 1 daemon", "PostgreSQL, 2 daemons")


@dataclass
class Run:
    """One setup's round."""

    setup: str
    orders: int
    seconds: float  # first "started" line → last delivery
    wall_seconds: float  # processes started → every order delivered everywhere
    requests: dict[str, int]
    delivered_by: list[int]  # per daemon: rows it delivered (two daemons: how the work was shared)

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _check_held(sims: SimulatorProcess, orders: int) -> None:
    """Each order exactly once on each platform (any other count is a bug, not a slow round)."""
    gotrack = sims.admin("gotrack", "GET", "orders")["orders"]
    orderrepo = sims.admin("orderrepo", "GET", "orders")["orders"]
    for name, keys in (
        ("gotrack", [stored["external_order_id"] for stored in gotrack]),
        ("orderrepo", [stored["external_id"] for stored in orderrepo]),
    ):
        if len(keys) != orders or len(set(keys)) != orders:
            raise RuntimeError(f"{name} holds {len(keys)} orders ({len(set(keys))} distinct), expected {orders}")


def run_setup(
    setup: str,
    sims: SimulatorProcess,
    cluster: Cluster,
    orders: int,
    workdir: Path,
    *,
    timeout: float,
) -> Run:
    """One setup until every order is delivered to both platforms; measured from outside."""
    for name in DESTINATIONS:
        sims.admin(name, "POST", "reset")
    workdir.mkdir(parents=True, exist_ok=True)
    state_dir = workdir / "state"
    config = daemon_config(
        workdir / "config.toml",
        woocommerce=sims.info["woocommerce"],
        gotrack=sims.info["gotrack"],
        orderrepo=sims.info["orderrepo"],
        state_dir=state_dir,
        poll_interval=1,
    )
    ledger: Any
    if setup.startswith("SQLite"):
        ledger = LedgerReader(state_dir / "ledger.sqlite3")
        count = 1
    else:
        url = cluster.database("throughput")
        add_ledger_section(config, url, shop_id=SHOP_ID)  # lease and lead check at their defaults
        ledger = PostgresLedgerReader(url, SHOP_ID)
        count = 2 if "2 daemons" in setup else 1
    requests_before = {name: sims.stats(name)["total"] for name in ("woocommerce", *DESTINATIONS)}
    began = time.monotonic()
    daemons = [DaemonProcess(config, workdir / f"daemon-{index}.log") for index in range(count)]
    deadline = began + timeout
    try:
        while True:
            time.sleep(0.2)
            for daemon in daemons:
                if not daemon.alive():
                    raise RuntimeError(f"a daemon exited with {daemon.process.returncode}; see {daemon.log_path}")
            states = ledger.states()
            rows = sum(sum(by_state.values()) for name, by_state in states.items() if name in DESTINATIONS)
            active = sum(by_state.get(state, 0) for by_state in states.values() for state in ACTIVE_STATES)
            if rows == orders * len(DESTINATIONS) and not active:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{setup}: not finished after {timeout:.0f} s: {states}")
        wall = time.monotonic() - began
    finally:
        codes = [daemon.stop() for daemon in daemons]
    if any(codes):
        raise RuntimeError(f"{setup}: exit codes {codes} on SIGTERM; see {workdir}")
    started = min(daemon.event_time("sync-daemon started") or daemon.started_at for daemon in daemons)
    last = max(_stamp(stamp) for (stamp,) in ledger.query(
        "SELECT delivered_at FROM deliveries WHERE state = 'delivered'"
    ))
    delivered_by = _delivered_by(daemons)
    ledger.close()
    _check_held(sims, orders)
    return Run(
        setup=setup,
        orders=orders,
        seconds=last - started,
        wall_seconds=wall,
        requests={name: sims.stats(name)["total"] - requests_before[name] for name in ("woocommerce", *DESTINATIONS)},
        delivered_by=delivered_by,
    )


def _delivered_by(daemons: list[DaemonProcess]) -> list[int]:
    """Rows each daemon delivered, from its "pass finished" lines."""
    return [sum(int(event.get("delivered", 0)) for event in daemon.log_events("pass finished")) for daemon in daemons]


def rounds(args: argparse.Namespace, echo: Callable[[str], None]) -> tuple[list[Run], str, float]:
    """Every setup, ``args.rounds`` times, interleaved; returns the runs, the server settings, generation time."""
    runs: list[Run] = []
    echo(f"generating {args.orders} orders in the simulator process, starting PostgreSQL …")
    with (
        SimulatorProcess(generate=args.orders, seed=args.seed) as sims,
        Cluster(durable=not args.fast) as cluster,
        tempfile.TemporaryDirectory(prefix="sync-daemon-pg-throughput-") as tmp,
    ):
        settings = f"{cluster.version()}; {cluster.settings}"
        for number in range(1, args.rounds + 1):
            for index, setup in enumerate(SETUPS):
                echo(f"round {number}/{args.rounds}: {setup} …")
                run = run_setup(
                    setup, sims, cluster, args.orders, Path(tmp) / f"round-{number}-{index}", timeout=args.timeout
                )
                echo(f"  {run.orders_per_second:.0f} orders/s, {run.seconds:.1f} s (wall {run.wall_seconds:.1f} s)")
                runs.append(run)
        return runs, settings, sims.startup_seconds


def summary(runs: list[Run], settings: str, orders: int) -> str:
    """The best round of each setup side by side, then every round."""
    best = {setup: min((run for run in runs if run.setup == setup), key=lambda run: run.seconds) for setup in SETUPS}
    base = best[SETUPS[0]]
    rows = []
    for setup in SETUPS:
        run = best[setup]
        rows.append([
            setup,
            f"{run.orders_per_second:.0f}",
            f"{run.seconds:.1f} s",
            f"{run.wall_seconds:.1f} s",
            f"{run.orders_per_second / base.orders_per_second:.2f}",
            " + ".join(str(count) for count in run.delivered_by) if len(run.delivered_by) > 1 else "",
            ", ".join(f"{name} {run.requests[name]}" for name in ("woocommerce", *DESTINATIONS)),
        ])
    lines = [
        f"== backfill of {orders} orders to GoTrack + OrderRepo, by ledger (daemon defaults: 4 requests in flight"
        " per platform per daemon) ==",
        f"machine: {os.cpu_count()} CPUs; PostgreSQL server: {settings}",
        "SQLite: the daemon's own settings (WAL, synchronous=NORMAL: no fsync per commit)",
        f"best of {len(runs) // len(SETUPS)} round(s) each:",
        table(rows, ["setup", "orders/s", "backfill", "wall (with start-up)", "vs SQLite",
                     "deliveries per daemon", "HTTP requests"]),
        "rounds (orders/s): " + "; ".join(
            f"{setup}: " + ", ".join(f"{run.orders_per_second:.0f}" for run in runs if run.setup == setup)
            for setup in SETUPS
        ),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="orders to backfill (default 2 000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each setup (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated orders")
    parser.add_argument("--fast", action="store_true", help="PostgreSQL as the tests run it: fsync=off …")
    parser.add_argument("--timeout", type=float, default=900, help="give up on one setup after this many seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    runs, settings, generation = rounds(args, lambda text: print(text, file=sys.stderr))
    print(f"generating the orders and starting the simulators: {generation:.1f} s (not counted)")
    print()
    print(summary(runs, settings, args.orders))
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
