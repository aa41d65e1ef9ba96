"""Idle cost: what a daemon with nothing to do costs in CPU and memory, over many polls.

    python bench/idle.py                    # 600 polls at 1 s (10 hours of the default 60 s interval)
    python bench/idle.py --seconds 60       # quicker

The simulators run in a process of their own (``bench/_simulators.py``) with N orders (default 200).
``sync-daemon run`` delivers them to GoTrack and OrderRepo first; then, with nothing left to do, it goes
on polling every second (the default is 60 s, so the run is compressed: every second here is a minute of
a merchant's quiet night), pulling OrderRepo statuses every 5 s and running write-back every 2 s (the
same 60-fold compression of their defaults, 300 s and 120 s). Every 10 s the script reads the
daemon's CPU time and resident memory from /proc.

It prints CPU use as a share of one core over the idle part (as measured, per poll, and at the default
intervals: the measured share / 60), resident memory at its start and end and the slope of a straight
line fitted through the samples (growth per hour of run time), and exits 1 when CPU use at the default
intervals is 1 % or more or memory grows (more than 1 MiB between the first and last thirds of the run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    ACTIVE_STATES,
    DaemonProcess,
    LedgerReader,
    SimulatorProcess,
    daemon_config,
    ledger_size,
    mib,
    table,
    wait_until,
)

CPU_TARGET_PERCENT = 1.0
# Polls (1 s instead of 60 s), status pulls (5 s instead of 300 s) and write-back (2 s instead of
# 120 s) all run 60 times as often as by default: CPU use at the defaults is the measured share / 60.
COMPRESSION = 60
GROWTH_LIMIT_KB = 1024
SAMPLE_SECONDS = 10.0
WARM_UP_SECONDS = 10.0


def _slope_kb_per_hour(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, kB) samples, in kB per hour."""
    if len(samples) < 2:
        return 0.0
    times = [moment for moment, _ in samples]
    sizes = [size for _, size in samples]
    mean_time, mean_size = statistics.fmean(times), statistics.fmean(sizes)
    spread = sum((moment - mean_time) ** 2 for moment in times)
    if not spread:
        return 0.0
    slope = sum((moment - mean_time) * (size - mean_size) for moment, size in samples) / spread
    return slope * 3600


def run_idle(orders: int, seconds: float, workdir: Path, echo=lambda text: None) -> tuple[bool, str]:
    """Deliver the orders, then measure the idle daemon; returns (targets met, report)."""
    with SimulatorProcess(generate=orders, seed=1) as sims:
        state_dir = workdir / "state"
        config = daemon_config(
            workdir / "config.toml",
            woocommerce=sims.info["woocommerce"],
            gotrack=sims.info["gotrack"],
            orderrepo=sims.info["orderrepo"],
            state_dir=state_dir,
            poll_interval=1,
            status_pull_interval=5,
            writeback_interval=2,
        )
        daemon = DaemonProcess(config, workdir / "daemon.log")
        ledger = LedgerReader(state_dir / "ledger.sqlite3")
        try:

            def settled() -> bool:
                states = ledger.states()
                rows = sum(sum(by_state.values()) for by_state in states.values())
                busy = sum(by_state.get(state, 0) for by_state in states.values() for state in ACTIVE_STATES)
                return (rows == 2 * orders and busy == 0) or not daemon.alive()

            echo(f"delivering {orders} orders first …")
            if not wait_until(settled, timeout=600) or not daemon.alive():
                raise RuntimeError(f"the daemon did not settle; see {daemon.log_path}")
            time.sleep(WARM_UP_SECONDS)
            echo(f"idle for {seconds:.0f} s …")
            requests_before = sims.stats("woocommerce")["total"]
            cpu_before, started = daemon.cpu_seconds(), time.monotonic()
            ledger_before = ledger_size(state_dir)
            samples: list[tuple[float, int]] = []
            while (elapsed := time.monotonic() - started) < seconds and daemon.alive():
                samples.append((elapsed, daemon.rss_kb() or 0))
                time.sleep(min(SAMPLE_SECONDS, max(0.0, seconds - elapsed)))
            samples.append((time.monotonic() - started, daemon.rss_kb() or 0))
            cpu_used, wall = (daemon.cpu_seconds() or 0.0) - (cpu_before or 0.0), time.monotonic() - started
            polls = sims.stats("woocommerce")["total"] - requests_before
            ledger_after = ledger_size(state_dir)
            states = ledger.states()
        finally:
            ledger.close()
            exit_code = daemon.stop()
    cpu_percent = 100 * cpu_used / wall
    at_defaults = cpu_percent / COMPRESSION
    third = max(1, len(samples) // 3)
    first_third = statistics.fmean(size for _, size in samples[:third])
    last_third = statistics.fmean(size for _, size in samples[-third:])
    growth = last_third - first_third
    highest = max(size for _, size in samples)
    rows = [
        ["idle time", f"{wall:.0f} s ({polls} requests to WooCommerce, {polls / wall:.2f} / s)"],
        ["CPU, share of one core", f"{cpu_percent:.2f} % ({cpu_used:.2f} s), {1000 * cpu_used / max(polls, 1):.1f} ms "
         "per poll (status pulls and write-back included)"],
        ["CPU at the default intervals", f"{at_defaults:.3f} % (the figure above / {COMPRESSION})"],
        ["RSS at start / end / highest", f"{mib(samples[0][1])} / {mib(samples[-1][1])} / {mib(highest)}"],
        ["RSS, first third → last third", f"{mib(first_third)} → {mib(last_third)} ({growth:+.0f} kB)"],
        ["RSS trend (least squares)", f"{_slope_kb_per_hour(samples):+.0f} kB per hour of run time"],
        ["ledger file", f"{ledger_before / 1024:.0f} kB → {ledger_after / 1024:.0f} kB"],
        ["ledger states", "; ".join(f"{n}: {dict(s)}" for n, s in sorted(states.items()))],
    ]
    cpu_ok = at_defaults < CPU_TARGET_PERCENT
    memory_ok = growth <= GROWTH_LIMIT_KB
    lines = [
        f"== idle daemon: {orders} orders delivered, then {wall:.0f} s of polls every second ==",
        table(rows),
        f"CPU: {'meets' if cpu_ok else 'MISSES'} the target of < {CPU_TARGET_PERCENT:g} % at the default intervals",
        f"memory: {'flat' if memory_ok else 'GROWS'} (limit: {GROWTH_LIMIT_KB} kB between first and last third)",
    ]
    if exit_code != 0:
        lines.append(f"the daemon exited with {exit_code} on SIGTERM (expected 0)")
    return cpu_ok and memory_ok and exit_code == 0, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders delivered before the idle part (200)")
    parser.add_argument("--seconds", type=float, default=600, help="length of the idle part, s (600)")
    parser.add_argument("--keep", metavar="DIR", help="keep config, log and ledger here instead of a temp dir")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sync-daemon-idle-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        passed, text = run_idle(args.orders, args.seconds, workdir, echo=lambda text: print(text, file=sys.stderr))
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
