"""Backfill throughput: the real daemon against simulators in another process, and a plain baseline.

    python bench/backfill.py                  # 10 000 orders, 3 rounds of daemon + baseline
    python bench/backfill.py --orders 2000    # quicker
    python bench/backfill.py --scale          # memory: N and 4 × N orders, peak RSS side by side
    python bench/backfill.py --pin both       # simulators on one CPU, daemon and baseline on another

What runs:

1. ``python -m sync_daemon.simulators --generate N`` in a process of its own (WooCommerce, GoTrack and
   OrderRepo on 127.0.0.1), started through ``bench/_simulators.py``, which only turns Nagle's algorithm
   off on their sockets (``--as-is`` keeps it on; see that file for why it matters). Generating the
   orders is timed and not counted.
2. Each round: ``python -m sync_daemon run`` with a fresh ledger and a config that enables GoTrack and
   OrderRepo and leaves everything else at its defaults (concurrency, batch size, timeouts), until every
   order is in a final state on both platforms. Peak RSS is VmHWM of that process; latencies and the end
   to end time (from the daemon's "started" line to the last delivery) come from its ledger.
3. Each round, after the daemon: the baseline. The same payloads (read back from that ledger) are pushed
   to the same simulators (GoTrack and OrderRepo reset first) by a plain ``requests.Session`` per
   platform, with the same number of threads per platform, both platforms at once: no reading from
   WooCommerce, no mapping, no ledger.

``--pin`` (Linux, 2 CPUs or more) takes CPUs out of the kernel's hands: ``client`` runs the daemon and the
baseline on the first CPU the bench may use, ``both`` also runs the simulators on the second one. Both
sides are Python threads behind one interpreter lock; free to run on any core, they hand the lock from
core to core thousands of times a second, and on a virtual machine each hand-over is dear. Pinned, a
round costs far less CPU and varies far less, so ``both`` shows the work each side really does; the
default (no pinning) is how a service runs unless its unit says otherwise (docs/systemd.md).

The figure that matters is daemon / baseline throughput (target ≥ 0.9); absolute figures depend on the
machine. Other processes on the machine slow some rounds down, never speed them up, so the headline
compares each side's best round; every round's own ratio is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    ACTIVE_STATES,
    ORIGIN,
    DaemonProcess,
    LedgerReader,
    SimulatorProcess,
    daemon_config,
    ledger_size,
    mib,
    percentile,
    proc_cpu_seconds,
    table,
)

DESTINATIONS = ("gotrack", "orderrepo")
DEFAULT_CONCURRENCY = 4  # DestinationSettings.concurrency's default
TARGET_RATIO = 0.9


@dataclass
class DaemonRun:
    """What one daemon backfill measured."""

    orders: int
    startup_seconds: float
    seconds: float
    states: dict[str, dict[str, int]]
    latencies: list[float]
    peak_rss_kb: int | None
    cpu_seconds: float | None
    simulator_cpu_seconds: float
    ledger_bytes: int
    requests: dict[str, int]
    payloads: dict[str, list[dict[str, Any]]] = field(repr=False)

    @property
    def delivered(self) -> int:
        return sum(states.get("delivered", 0) for states in self.states.values())

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.seconds


@dataclass
class BaselineRun:
    """What the plain requests loop measured."""

    orders: int
    seconds: float
    sent: dict[str, int]
    failed: dict[str, int]
    cpu_seconds: float
    simulator_cpu_seconds: float

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds

    @property
    def deliveries_per_second(self) -> float:
        return sum(self.sent.values()) / self.seconds


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def run_daemon(
    sims: SimulatorProcess,
    orders: int,
    workdir: Path,
    *,
    concurrency: int | None,
    batch_size: int | None,
    timeout: float,
) -> DaemonRun:
    """The real CLI until every order is final on both platforms; measured from outside."""
    workdir.mkdir(parents=True, exist_ok=True)
    state_dir = workdir / "state"
    config = daemon_config(
        workdir / "config.toml",
        woocommerce=sims.info["woocommerce"],
        gotrack=sims.info["gotrack"],
        orderrepo=sims.info["orderrepo"],
        state_dir=state_dir,
        poll_interval=1,
        concurrency=concurrency,
        batch_size=batch_size,
    )
    requests_before = {name: sims.stats(name)["total"] for name in ("woocommerce", *DESTINATIONS)}
    ledger = LedgerReader(state_dir / "ledger.sqlite3")
    simulator_cpu = proc_cpu_seconds(sims.pid) or 0.0
    daemon = DaemonProcess(config, workdir / "daemon.log")
    peak = cpu = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            time.sleep(0.5)
            if not daemon.alive():
                raise RuntimeError(f"the daemon exited with {daemon.process.returncode}; see {daemon.log_path}")
            states = ledger.states()
            rows = sum(sum(by_state.values()) for name, by_state in states.items() if name in DESTINATIONS)
            active = sum(by_state.get(state, 0) for by_state in states.values() for state in ACTIVE_STATES)
            if rows == orders * len(DESTINATIONS) and not active:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not finished after {timeout:.0f} s: {states}")
        peak = daemon.peak_rss_kb()
        cpu = daemon.cpu_seconds()
        simulator_cpu = (proc_cpu_seconds(sims.pid) or 0.0) - simulator_cpu
    finally:
        code = daemon.stop()
    if code != 0:
        raise RuntimeError(f"the daemon exited with {code}; see {daemon.log_path}")
    started = daemon.event_time("sync-daemon started") or daemon.started_at
    final_states = ledger.states()
    rows = ledger.query("SELECT order_id, destination, state, queued_at, delivered_at, payload FROM deliveries")
    ledger.close()
    last_delivery = started
    landed: dict[int, float] = {}
    queued: dict[int, float] = {}
    payloads: dict[str, list[dict[str, Any]]] = {name: [] for name in DESTINATIONS}
    for order_id, destination, state, queued_at, delivered_at, payload in rows:
        if state != "delivered":
            continue
        at = _stamp(delivered_at)
        last_delivery = max(last_delivery, at)
        landed[order_id] = max(landed.get(order_id, 0.0), at)
        queued[order_id] = min(queued.get(order_id, queued_at), queued_at)
        payloads[destination].append(json.loads(payload))
    return DaemonRun(
        orders=orders,
        startup_seconds=started - daemon.started_at,
        seconds=last_delivery - started,
        states=final_states,
        # Read → delivered everywhere: from the order's ingest into the ledger to its last delivery.
        latencies=[landed[order_id] - queued[order_id] for order_id in landed],
        peak_rss_kb=peak,
        cpu_seconds=cpu,
        simulator_cpu_seconds=simulator_cpu,
        ledger_bytes=ledger_size(state_dir),
        requests={name: sims.stats(name)["total"] - requests_before[name] for name in ("woocommerce", *DESTINATIONS)},
        payloads=payloads,
    )


def run_baseline(sims: SimulatorProcess, payloads: dict[str, list[dict[str, Any]]], concurrency: int) -> BaselineRun:
    """The same payloads, a plain requests.Session per platform, same threads per platform, both at once."""
    for name in DESTINATIONS:
        sims.admin(name, "POST", "reset")
    gotrack, orderrepo = sims.info["gotrack"], sims.info["orderrepo"]
    targets = {
        "gotrack": (
            gotrack["endpoint"],
            {"Content-Type": "application/json"},
            HTTPBasicAuth(gotrack["credentials"]["api_key"], gotrack["credentials"]["api_secret"]),
        ),
        "orderrepo": (
            f"{orderrepo['url']}/api/orders/track",
            {"Content-Type": "application/json", "X-API-KEY": orderrepo["credentials"]["api_key"], "Origin": ORIGIN},
            None,
        ),
    }
    sent = dict.fromkeys(DESTINATIONS, 0)
    failed = dict.fromkeys(DESTINATIONS, 0)
    counts_lock = threading.Lock()
    threads: list[threading.Thread] = []
    sessions: list[requests.Session] = []
    for name in DESTINATIONS:
        url, headers, auth = targets[name]
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, max_retries=0))
        session.headers.update(headers)
        session.auth = auth
        # As the daemon's sessions (sync_daemon.core.http.build_session): the environment is not read
        # again on every request, so the baseline is the cheapest plain loop, not a handicapped one.
        session.trust_env = False
        sessions.append(session)
        work = iter(payloads[name])
        take = threading.Lock()

        def push(
            name: str = name, url: str = url, session: requests.Session = session, work: Any = work, take: Any = take
        ) -> None:
            while True:
                with take:
                    payload = next(work, None)
                if payload is None:
                    return
                response = session.post(url, json=payload, timeout=30)
                with counts_lock:
                    if response.status_code in (200, 201):
                        sent[name] += 1
                    else:
                        failed[name] += 1

        threads += [threading.Thread(target=push, name=f"baseline-{name}") for _ in range(concurrency)]
    simulator_cpu = proc_cpu_seconds(sims.pid) or 0.0
    cpu = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    simulator_cpu = (proc_cpu_seconds(sims.pid) or 0.0) - simulator_cpu
    for session in sessions:
        session.close()
    for name in DESTINATIONS:
        sims.admin(name, "POST", "reset")
    return BaselineRun(
        orders=max(len(items) for items in payloads.values()),
        seconds=seconds,
        sent=sent,
        failed=failed,
        cpu_seconds=cpu,
        simulator_cpu_seconds=simulator_cpu,
    )


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def report(run: DaemonRun, baseline: BaselineRun | None) -> str:
    """The figures of one daemon run next to one baseline run."""
    base = baseline
    rows = [
        ["end to end", _fmt(run.seconds, " s"), _fmt(base and base.seconds, " s")],
        ["orders / s", _fmt(run.orders_per_second, digits=0), _fmt(base and base.orders_per_second, digits=0)],
        [
            "deliveries / s",
            _fmt(run.deliveries_per_second, digits=0),
            _fmt(base and base.deliveries_per_second, digits=0),
        ],
        [
            "read → delivered, p50 / p99",
            f"{percentile(run.latencies, 0.5):.2f} s / {percentile(run.latencies, 0.99):.2f} s",
            "-",
        ],
        ["peak RSS of the daemon (VmHWM)", mib(run.peak_rss_kb), "-"],
        ["ledger file", f"{run.ledger_bytes / 2**20:.1f} MiB", "-"],
    ]
    for name in ("woocommerce", *DESTINATIONS):
        sent = str(base.sent[name] + base.failed[name]) if base and name in base.sent else "-"
        rows.append([f"HTTP requests to {name}", str(run.requests[name]), sent])
    rows += [
        ["CPU, client process", _fmt(run.cpu_seconds, " s"), _fmt(base and base.cpu_seconds, " s")],
        [
            "CPU, simulator process",
            _fmt(run.simulator_cpu_seconds, " s"),
            _fmt(base and base.simulator_cpu_seconds, " s"),
        ],
    ]
    lines = [table(rows, ["", "daemon", "baseline"])]
    states = "; ".join(
        f"{name}: " + ", ".join(f"{count} {state}" for state, count in sorted(by_state.items()))
        for name, by_state in sorted(run.states.items())
    )
    lines.append(f"ledger states: {states}")
    if baseline and any(baseline.failed.values()):
        lines.append(f"baseline requests not answered 200/201: {baseline.failed}")
    return "\n".join(lines)


def pinned_cpus(mode: str | None) -> tuple[set[int] | None, set[int] | None]:
    """(CPUs of the simulators, CPUs of the client side) for ``--pin``; None where the kernel chooses."""
    if not mode:
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise SystemExit(f"--pin needs 2 CPUs or more; this process may use {len(allowed)}")
    return ({allowed[1]} if mode == "both" else None), {allowed[0]}


def _use_cpus(cpus: set[int] | None) -> None:
    """Run this process (and the children it starts from now on) on these CPUs; None: leave it be."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def backfill(
    orders: int, args: argparse.Namespace, rounds: int, echo: Any
) -> tuple[float, list[DaemonRun], list[BaselineRun]]:
    """Fresh simulators with ``orders`` orders, then ``rounds`` × (daemon, baseline)."""
    echo(f"generating {orders} orders in the simulator process …")
    runs: list[DaemonRun] = []
    baselines: list[BaselineRun] = []
    everywhere = os.sched_getaffinity(0) if args.pin else None  # (Linux only: asked only when pinning)
    simulator_cpus, client_cpus = pinned_cpus(args.pin)
    # A child process inherits its parent's CPUs: the simulators are started with theirs, and the
    # daemon (a child too) and the baseline's threads (this process) with the client's.
    _use_cpus(simulator_cpus or everywhere)
    with (
        SimulatorProcess(generate=orders, seed=args.seed, nodelay=not args.as_is) as sims,
        tempfile.TemporaryDirectory(prefix="sync-daemon-bench-") as tmp,
    ):
        _use_cpus(client_cpus or everywhere)
        for number in range(1, rounds + 1):
            echo(f"round {number}/{rounds}: daemon …")
            run = run_daemon(
                sims,
                orders,
                Path(tmp) / f"round-{number}",
                concurrency=args.concurrency,
                batch_size=args.batch_size,
                timeout=args.timeout,
            )
            runs.append(run)
            if not args.no_baseline:
                echo(f"round {number}/{rounds}: baseline …")
                baselines.append(run_baseline(sims, run.payloads, args.concurrency or DEFAULT_CONCURRENCY))
            run.payloads = {}  # the next round reads its own
            for name in DESTINATIONS:
                sims.admin(name, "POST", "reset")
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for path in Path(tmp).rglob("*"):
                if path.is_file():
                    target = keep / path.relative_to(tmp)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(path.read_bytes())
        _use_cpus(everywhere)
        return sims.startup_seconds, runs, baselines


def summary(orders: int, generation: float, runs: list[DaemonRun], baselines: list[BaselineRun], concurrency: int):
    """Printed figures of one size: the best daemon round next to the best baseline round, then every round."""
    best = min(runs, key=lambda run: run.seconds)
    base = min(baselines, key=lambda run: run.seconds) if baselines else None
    lines = [
        f"== backfill of {orders} orders to GoTrack + OrderRepo, {concurrency} requests in flight per platform ==",
        f"generating the orders in the simulator process: {generation:.1f} s (not counted); daemon start-up "
        f"(interpreter, config, ledger): {best.startup_seconds:.2f} s (not counted)",
        f"best of {len(runs)} round(s) each:",
        report(best, base),
    ]
    if base:
        ratio = best.orders_per_second / base.orders_per_second
        ratios = [run.orders_per_second / other.orders_per_second for run, other in zip(runs, baselines, strict=True)]
        lines.append(
            "rounds (daemon / baseline, orders/s): "
            + ", ".join(
                f"{run.orders_per_second:.0f} / {other.orders_per_second:.0f} = {run.orders_per_second / other.orders_per_second:.2f}"  # noqa: E501
                for run, other in zip(runs, baselines, strict=True)
            )
        )
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        lines.append(
            f"daemon / baseline throughput: {ratio:.2f} best vs best, {statistics.median(ratios):.2f} median of rounds "
            f"({verdict} the {TARGET_RATIO} target)"
        )
    return "\n".join(lines), best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="orders to backfill (default 10 000)")
    parser.add_argument("--rounds", type=int, default=None, help="daemon + baseline rounds (default 3; 1 with --scale)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated orders")
    parser.add_argument("--concurrency", type=int, default=None, help="requests in flight per platform (default 4)")
    parser.add_argument("--batch-size", type=int, default=None, help="delivery.batch_size (default: the daemon's)")
    parser.add_argument("--scale", action="store_true", help="also run 4 × N orders and compare peak RSS")
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain requests baseline")
    parser.add_argument("--as-is", action="store_true", help="simulators with Nagle's algorithm on (their default)")
    parser.add_argument(
        "--pin",
        choices=("client", "both"),
        help="client: daemon and baseline on one CPU; both: and the simulators on another (see above)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="give up on a daemon run after this many seconds")
    parser.add_argument("--keep", metavar="DIR", help="copy every round's config, log and ledger here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    rounds = args.rounds or (1 if args.scale else 3)
    sizes = [args.orders, args.orders * 4] if args.scale else [args.orders]
    load = os.getloadavg()[0]
    pinning = {
        None: "",
        "client": "; daemon and baseline pinned to one CPU",
        "both": "; daemon and baseline pinned to one CPU, simulators to another",
    }[args.pin]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start{pinning}")
    best_runs = []
    for size in sizes:
        generation, runs, baselines = backfill(size, args, rounds, lambda text: print(text, file=sys.stderr))
        text, best = summary(size, generation, runs, baselines, concurrency)
        best_runs.append(best)
        print()
        print(text)
        sys.stdout.flush()
    if args.scale:
        small, large = best_runs
        growth = (large.peak_rss_kb or 0) / (small.peak_rss_kb or 1) - 1
        print()
        print("== memory: peak RSS of the daemon process ==")
        print(
            table(
                [
                    [f"{run.orders} orders", mib(run.peak_rss_kb), f"{run.orders_per_second:.0f} orders/s"]
                    for run in best_runs
                ],
                ["", "peak RSS (VmHWM)", "throughput"],
            )
        )
        verdict = "within" if growth <= 0.10 else "MORE than"
        print(f"4 × the orders: peak RSS {growth * 100:+.1f} % ({verdict} the 10 % target)")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
