"""Fault soak: every order lands exactly once with the right total, while platforms fail and the daemon dies.

    python bench/soak.py                          # 2 000 orders, 10 × kill -9
    python bench/soak.py --orders 300 --kills 3   # the size tests/e2e/test_soak_short.py runs

The simulators run in a process of their own (``bench/_simulators.py``); faults and checks go through
their admin interface. GoTrack and OrderRepo both answer, per request, 10 % 503, 5 % timeouts (the
answer never comes), 5 % connection resets and 3 % "commit then 500" (the order is stored, the answer
says 500); every few seconds one of them answers a burst of 429 with ``Retry-After``. WooCommerce
answers 5 % of reads with 503. Meanwhile ``sync-daemon run`` is killed with SIGKILL at moments spread
over the backfill (some right after a restart, during recovery) and started again.

After each kill, per platform: the requests in flight at the kill (rows the ledger has ``sending``: a row
is marked just before its request leaves and recorded as soon as the answer is back) and, among them,
the re-sends (orders the platform already holds, which the restarted daemon will ask for again; an
order it holds from an earlier "commit then 500" is not counted, the 500 sends it again anyway).

Beside them, the re-sent creates that no kill explains (must be 0): from OrderRepo's per-order request
history (``GET /__admin__/history``), every create of an order that arrived after OrderRepo had confirmed
the order to the daemon (a create answered 2xx or "exists", a read answered 200, an update answered 2xx),
unless the order was in flight at a kill between the two. GoTrack's creates are idempotent and its simulator keeps no
such history: its re-sends are the per-kill ones above.

After the last kill a final daemon runs, faults still on, until the ledger says every order is final on
both platforms (or the drain timeout passes), and is stopped with SIGTERM. Then, on the platforms' side:
every order held exactly once by each, every total right (GoTrack's ``total_selling_price`` is the
WooCommerce total; OrderRepo's ``total`` is it in minor units), and nothing in the ledger but delivered
rows and rows the faults still legitimately hold back. Prints a verdict table; exits 1 on any loss,
duplicate, wrong total or unexplained ledger state.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    DaemonProcess,
    LedgerReader,
    SimulatorProcess,
    daemon_config,
    table,
    wait_until,
)

PLATFORMS = ("gotrack", "orderrepo")
CONCURRENCY = 4  # requests in flight per platform: the daemon's default, which the soak keeps
SETTLE_AFTER_KILL_SECONDS = 0.3  # what reached a platform before the kill is processed there meanwhile
# A confirmation logged by the platform up to this long after a kill may be the answer the kill cut off
# (a request in flight is answered within the client's timeout, 1 s in the soaks).
KILL_SLACK_SECONDS = 2.0
# What a row may be left with at the end without anything being wrong: the platform has not
# answered well yet and the ledger will try again.
FAULT_MARKERS = ("HTTP 5", "HTTP 429", "no answer", "cannot connect", "connection", "interrupted", "rate limited")


def platform_faults(timeout_delay: float) -> list[dict[str, Any]]:
    """10 % 503, 5 % timeouts, 5 % resets, 3 % commit-then-500, as shares of all requests.

    Rules are tried in order and each probability applies to what the rules before it let through,
    so each is divided by the share still left.
    """
    return [
        {"kind": "status", "status": 503, "probability": 0.10},
        {"kind": "timeout", "delay": timeout_delay, "probability": 0.05 / 0.90},
        {"kind": "reset", "probability": 0.05 / 0.85},
        {"kind": "commit_then_500", "probability": 0.03 / 0.80},
    ]


@dataclass
class Kill:
    """One kill -9."""

    at: float  # seconds since the soak started
    delivered: int  # rows delivered (both platforms) when it fell
    sending: int  # rows marked 'sending' (requests in flight) the moment after
    early: bool  # right after a restart, during start-up and recovery
    in_flight: dict[str, int] = field(default_factory=dict)  # per platform: rows 'sending' at the kill
    resent: dict[str, int] = field(default_factory=dict)  # per platform: of those, orders it already held
    wall: float = 0.0  # epoch seconds of the kill (the simulators' clock)
    sending_ids: dict[str, set[int]] = field(default_factory=dict)  # per platform: the orders in flight at it


@dataclass
class SoakResult:
    """Everything the verdict is made of."""

    orders: int
    totals: dict[int, tuple[Decimal, str]]  # WooCommerce total and currency per order
    kills: list[Kill] = field(default_factory=list)
    bursts: Counter[str] = field(default_factory=Counter)
    states: dict[str, dict[str, int]] = field(default_factory=dict)
    leftovers: list[tuple[int, str, str, str]] = field(default_factory=list)  # order, platform, state, error
    held: dict[str, Counter[str]] = field(default_factory=dict)
    stored_totals: dict[str, dict[str, Any]] = field(default_factory=dict)
    create_requests: dict[str, Counter[str]] = field(default_factory=dict)
    unexplained_creates: list[str] = field(default_factory=list)  # one line per create no kill explains
    fault_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    final_exit_code: int | None = None
    seconds: float = 0.0
    drained: bool = False


@dataclass
class PlatformVerdict:
    """One platform's line of the verdict table."""

    platform: str
    held: int
    missing: list[int]
    duplicates: list[int]
    wrong_totals: list[str]
    pending: list[int]  # legitimately pending: retried by the ledger, faults still on
    bad_rows: list[str]  # ledger rows in a state nothing explains
    resent: int  # orders whose create request went out more than once (kills, lost answers)
    max_requests: int

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.wrong_totals or self.bad_rows)


def _minor_units(amount: Decimal, currency: str) -> int:
    exponent = {"JPY": 0, "KWD": 3, "BHD": 3}.get(currency, 2)
    return int((amount * 10**exponent).to_integral_value())


def verdicts(result: SoakResult) -> list[PlatformVerdict]:
    """Per platform: what is missing, doubled, wrong, or left in the ledger."""
    out = []
    leftovers = {(order_id, platform): (state, error) for order_id, platform, state, error in result.leftovers}
    for platform in PLATFORMS:
        held = result.held[platform]
        missing, pending, bad_rows, wrong = [], [], [], []
        for order_id, (total, currency) in sorted(result.totals.items()):
            key = str(order_id)
            left = leftovers.get((order_id, platform))
            if left is not None:
                state, error = left
                if state in ("pending", "retrying") and any(marker in error for marker in FAULT_MARKERS):
                    pending.append(order_id)
                else:
                    bad_rows.append(f"{order_id}: {state} ({error[:80]})")
            if held[key] == 0:
                if left is None or order_id not in pending:
                    missing.append(order_id)
                continue
            stored = result.stored_totals[platform][key]
            if platform == "gotrack" and Decimal(str(stored)) != total:
                wrong.append(f"{order_id}: {stored} ≠ {total}")
            if platform == "orderrepo" and int(stored) != _minor_units(total, currency):
                wrong.append(f"{order_id}: {stored} ≠ {_minor_units(total, currency)}")
        requests = result.create_requests[platform]
        out.append(
            PlatformVerdict(
                platform=platform,
                held=sum(held.values()),
                missing=missing,
                duplicates=sorted(int(key) for key, count in held.items() if count > 1),
                wrong_totals=wrong,
                pending=pending,
                bad_rows=bad_rows,
                resent=sum(1 for count in requests.values() if count > 1),
                max_requests=max(requests.values(), default=0),
            )
        )
    return out


def report(result: SoakResult) -> tuple[bool, str]:
    """The verdict table and whether the soak passed."""
    lines = [
        f"== fault soak: {result.orders} orders to GoTrack + OrderRepo, {len(result.kills)} × kill -9, "
        f"{result.seconds:.0f} s ==",
    ]
    for platform in PLATFORMS:
        faults = result.fault_counts.get(platform, {})
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(faults.items())) or "none"
        lines.append(f"faults injected by {platform}: {shown}; 429 bursts: {result.bursts[platform]}")
    if "woocommerce" in result.fault_counts:
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(result.fault_counts["woocommerce"].items()))
        lines.append(f"faults injected by woocommerce: {shown or 'none'}")
    described = []
    for kill in result.kills:
        when = ", at start-up" if kill.early else ""
        described.append(f"{kill.at:.1f} s ({kill.delivered} delivered, {kill.sending} in flight{when})")
    lines.append("kills: " + ", ".join(described))
    lines.append("")
    lines += resend_lines(result)
    lines += unexplained_lines(result)
    found = verdicts(result)
    rows = []
    for verdict in found:
        rows.append(
            [
                verdict.platform,
                result.orders,
                verdict.held,
                len(verdict.missing),
                len(verdict.duplicates),
                len(verdict.wrong_totals),
                len(verdict.pending),
                len(verdict.bad_rows),
                f"{verdict.resent} (max {verdict.max_requests})",
                "OK" if verdict.ok else "FAIL",
            ]
        )
    lines.append(
        table(
            rows,
            [
                "platform",
                "orders",
                "held",
                "missing",
                "twice",
                "wrong total",
                "pending (faults)",
                "bad ledger rows",
                "sent more than once",
                "verdict",
            ],
        )
    )
    states = "; ".join(
        f"{name}: " + ", ".join(f"{count} {state}" for state, count in sorted(by_state.items()))
        for name, by_state in sorted(result.states.items())
    )
    lines.append(f"ledger at the end: {states}")
    too_many = too_many_resends(result)
    passed = (
        all(verdict.ok for verdict in found)
        and result.final_exit_code == 0
        and not too_many
        and not result.unexplained_creates
    )
    for platform, number, resent in too_many:
        lines.append(f"{platform}: kill #{number} sent {resent} requests again, more than the {CONCURRENCY} in flight")
    if result.final_exit_code != 0:
        lines.append(f"the final daemon exited with {result.final_exit_code} on SIGTERM (expected 0)")
    for verdict in found:
        for label, items in (
            ("missing", verdict.missing),
            ("held twice", verdict.duplicates),
            ("wrong total", verdict.wrong_totals),
            ("unexplained ledger rows", verdict.bad_rows),
        ):
            if items:
                lines.append(f"{verdict.platform} {label}: {items[:20]}{' …' if len(items) > 20 else ''}")
    if not result.drained:
        lines.append("(the drain timeout passed with deliveries still pending; see 'pending (faults)')")
    lines.append(f"verdict: {'PASS' if passed else 'FAIL'}")
    return passed, "\n".join(lines)


def _confirms(action: str, status: int | None) -> bool:
    """Whether an answer told the daemon that OrderRepo holds the order (the soak's orders are all valid,
    so a refused create means "exists")."""
    if status is None:
        return False
    return 200 <= status < 300 or (action == "track" and status == 422)


def unexplained_creates(history: dict[str, list[list[Any]]], kills: list[Kill], platform: str) -> list[str]:
    """Creates of an order that arrived after the platform had confirmed it to the daemon, with no kill
    since that had the order in flight (history events: arrived, action, status, answered)."""
    found = []
    for key, events in sorted(history.items()):
        if not key.isdigit():
            continue
        order_id = int(key)
        events = sorted(events, key=lambda event: event[0])
        for arrived, action, status, _ in events:
            if action != "track":
                continue
            # The latest answer before this create that told the daemon the platform holds the order.
            confirmed_at = max(
                (answered for _, done, said, answered in events if answered < arrived and _confirms(done, said)),
                default=None,
            )
            if confirmed_at is None:
                continue
            since = confirmed_at - KILL_SLACK_SECONDS
            if any(since < kill.wall < arrived and order_id in kill.sending_ids.get(platform, ()) for kill in kills):
                continue
            start = events[0][0]
            steps = ", ".join(f"{event[1]} {event[2]} at {event[0] - start:.2f}" for event in events)
            found.append(f"{order_id}: create answered {status}, {arrived - confirmed_at:.2f} s after confirmed"
                         f" ({steps})")
    return found


def unexplained_lines(result: SoakResult) -> list[str]:
    """The count of re-sent creates no kill explains, and the first of them."""
    found = result.unexplained_creates
    lines = [f"re-sent creates that no kill explains (orderrepo): {len(found)} (must be 0)"]
    lines += [f"  {line}" for line in found[:10]]
    return lines


def resend_lines(result: SoakResult) -> list[str]:
    """Per platform, each kill's re-sends next to the requests that were in flight at it."""
    if not result.kills:
        return []
    rows = []
    for platform in PLATFORMS:
        cells = [f"{kill.resent.get(platform, 0)} / {kill.in_flight.get(platform, 0)}" for kill in result.kills]
        total = sum(kill.resent.get(platform, 0) for kill in result.kills)
        most = max(kill.in_flight.get(platform, 0) for kill in result.kills)
        rows.append([platform, *cells, f"{total / len(result.kills):.1f}", str(most)])
    header = ["platform", *(f"kill {n}" for n in range(1, len(result.kills) + 1)), "per kill", "max in flight"]
    return [
        f"re-sent after each kill / in flight at the kill (at most {CONCURRENCY} per platform may be out):",
        table(rows, header),
        "",
    ]


def too_many_resends(result: SoakResult) -> list[tuple[str, int, int]]:
    """(platform, kill number, re-sends) for every kill that sent more again than could have been in flight."""
    return [
        (platform, number, kill.resent.get(platform, 0))
        for number, kill in enumerate(result.kills, start=1)
        for platform in PLATFORMS
        if kill.resent.get(platform, 0) > CONCURRENCY
    ]


def _held_ids(sims: SimulatorProcess, platform: str) -> set[int]:
    """WooCommerce order ids the platform holds now."""
    stored = sims.admin(platform, "GET", "orders")["orders"]
    key = "external_order_id" if platform == "gotrack" else "external_id"
    return {int(order[key]) for order in stored if str(order.get(key) or "").isdigit()}


def _out_at_kill(ledger: LedgerReader, sims: SimulatorProcess) -> tuple[dict[str, set[int]], dict[str, int]]:
    """Per platform: the orders 'sending' (in flight at the kill), and how many of them it holds (re-sends)."""
    time.sleep(SETTLE_AFTER_KILL_SECONDS)
    sending: dict[str, set[int]] = {platform: set() for platform in PLATFORMS}
    for destination, order_id in ledger.query("SELECT destination, order_id FROM deliveries WHERE state = 'sending'"):
        sending.setdefault(destination, set()).add(order_id)
    resent = {}
    for platform in PLATFORMS:
        # Held because an earlier attempt was stored and answered 500: sent again for that reason.
        after_500 = {
            order_id
            for (order_id,) in ledger.query(
                "SELECT DISTINCT order_id FROM attempts WHERE destination = ? AND http_status = 500", [platform]
            )
        }
        resent[platform] = len((sending[platform] & _held_ids(sims, platform)) - after_500)
    return sending, resent


class _Bursts(threading.Thread):
    """Every few seconds one platform rate-limits: for a second or three it answers every request 429
    with Retry-After (a window, as real rate limits are), then goes back to its usual faults."""

    def __init__(self, sims: SimulatorProcess, rng: random.Random, base: list[dict[str, Any]], seed: int) -> None:
        super().__init__(name="soak-429-bursts", daemon=True)
        self.sims, self.rng, self.base, self.seed = sims, rng, base, seed
        self.stop = threading.Event()
        self.count: Counter[str] = Counter()

    def run(self) -> None:
        index = 0
        while not self.stop.wait(self.rng.uniform(2.0, 5.0)):
            platform = PLATFORMS[index % len(PLATFORMS)]
            index += 1
            burst = {"kind": "rate_limit", "retry_after": self.rng.choice((1, 2))}
            try:
                self.sims.admin(platform, "PUT", "faults", {"rules": [burst], "seed": self.seed + index})
                self.count[platform] += 1
                self.stop.wait(self.rng.uniform(1.0, 3.0))
            except Exception:  # noqa: BLE001 - a missed burst only makes the soak gentler
                pass
            finally:
                self._restore(platform, index)

    def _restore(self, platform: str, index: int) -> None:
        for _ in range(5):
            try:
                self.sims.admin(platform, "PUT", "faults", {"rules": self.base, "seed": self.seed + index})
                return
            except Exception:  # noqa: BLE001 - the simulator is busy: try again
                time.sleep(0.2)


def run_soak(
    orders: int,
    kills: int,
    workdir: Path,
    *,
    seed: int = 1,
    client_timeout: float = 1.0,
    drain_timeout: float = 300,
    echo: Any = lambda text: None,
) -> SoakResult:
    """The soak itself; returns what the verdict needs (``report`` turns it into a table)."""
    rng = random.Random(seed)
    started = time.monotonic()
    base = platform_faults(timeout_delay=client_timeout * 1.5)
    with SimulatorProcess(generate=orders, seed=seed) as sims:
        totals = {}
        for order_id in range(1, orders + 1):
            order = sims.admin("woocommerce", "GET", f"orders/{order_id}")["order"]
            totals[order_id] = (Decimal(order["total"]), str(order["currency"]).upper())
        result = SoakResult(orders=orders, totals=totals)
        for index, platform in enumerate(PLATFORMS):
            sims.admin(platform, "PUT", "faults", {"rules": base, "seed": seed * 100 + index})
        sims.admin("woocommerce", "PUT", "faults", {"rules": [{"kind": "status", "status": 503, "probability": 0.05}]})
        state_dir = workdir / "state"
        config = daemon_config(
            workdir / "config.toml",
            woocommerce=sims.info["woocommerce"],
            gotrack=sims.info["gotrack"],
            orderrepo=sims.info["orderrepo"],
            state_dir=state_dir,
            poll_interval=1,
            timeout=client_timeout,
            # Compressed (the default starts at 5 s, 5 min, 30 min …) and long: with these fault rates a row
            # failing 40 times in a row means something is stuck, which is what the soak is looking for.
            retry_schedule=[0.5, 1, 1, *[2] * 37],
            retry_jitter=0.2,
        )
        ledger = LedgerReader(state_dir / "ledger.sqlite3")
        total_rows = orders * len(PLATFORMS)

        def delivered() -> int:
            return sum(by_state.get("delivered", 0) for by_state in ledger.states().values())

        bursts = _Bursts(sims, rng, base, seed * 1000)
        bursts.start()
        try:
            for number in range(kills):
                daemon = DaemonProcess(config, workdir / f"daemon-{number}.log")
                early = rng.random() < 0.2
                if early:
                    time.sleep(rng.uniform(0.2, 1.0))  # start-up: config, ledger recovery, first page
                else:
                    target = (number + 1) * total_rows // (kills + 1)
                    wait_until(
                        lambda target=target, daemon=daemon: delivered() >= target or not daemon.alive(), timeout=120
                    )
                    time.sleep(rng.uniform(0.0, 0.4))
                if not daemon.alive():
                    raise RuntimeError(f"the daemon died by itself; see {daemon.log_path}")
                daemon.kill()
                at, wall = time.monotonic() - started, time.time()
                sending, resent = _out_at_kill(ledger, sims)
                states = ledger.states()
                result.kills.append(
                    Kill(
                        at=at,
                        delivered=sum(by_state.get("delivered", 0) for by_state in states.values()),
                        sending=sum(by_state.get("sending", 0) for by_state in states.values()),
                        early=early,
                        in_flight={platform: len(ids) for platform, ids in sending.items()},
                        resent=resent,
                        wall=wall,
                        sending_ids=sending,
                    )
                )
                echo(f"kill -9 #{number + 1} at {result.kills[-1].at:.1f} s: {result.kills[-1]}")
            daemon = DaemonProcess(config, workdir / "daemon-final.log")

            def finished() -> bool:
                states = ledger.states()
                rows = sum(sum(by_state.values()) for by_state in states.values())
                final = sum(by_state.get(name, 0) for by_state in states.values() for name in ("delivered", "rejected"))
                dead = sum(by_state.get("dead", 0) for by_state in states.values())
                return (rows == total_rows and final + dead == total_rows) or not daemon.alive()

            result.drained = wait_until(finished, timeout=drain_timeout, interval=0.5)
            bursts.stop.set()
            result.final_exit_code = daemon.stop(timeout=60)
        finally:
            bursts.stop.set()
            bursts.join(timeout=10)
        result.bursts = bursts.count
        result.seconds = time.monotonic() - started
        result.states = ledger.states()
        result.leftovers = [
            (order_id, destination, state, error or "")
            for order_id, destination, state, error in ledger.query(
                "SELECT order_id, destination, state, last_error FROM deliveries WHERE state != 'delivered'"
            )
        ]
        ledger.close()
        for platform in (*PLATFORMS, "woocommerce"):
            result.fault_counts[platform] = sims.stats(platform)["faults"]
        gotrack = sims.admin("gotrack", "GET", "orders")
        orderrepo = sims.admin("orderrepo", "GET", "orders")
        history = sims.admin("orderrepo", "GET", "history")["history"]
    result.unexplained_creates = unexplained_creates(history, result.kills, "orderrepo")
    result.held = {
        "gotrack": Counter(stored["external_order_id"] for stored in gotrack["orders"]),
        "orderrepo": Counter(stored["external_id"] for stored in orderrepo["orders"]),
    }
    result.stored_totals = {
        "gotrack": {
            stored["external_order_id"]: stored["order"]["total_selling_price"] for stored in gotrack["orders"]
        },
        "orderrepo": {stored["external_id"]: stored["order"]["total"] for stored in orderrepo["orders"]},
    }
    result.create_requests = {
        "gotrack": Counter(
            {label.split(":", 1)[1]: count for label, count in gotrack["requests_by_external_id"].items()}
        ),
        "orderrepo": Counter({key: counts["track"] for key, counts in orderrepo["requests_by_id"].items()}),
    }
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="orders (default 2 000)")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 during the backfill (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of orders, faults and kill moments")
    parser.add_argument("--client-timeout", type=float, default=1.0, help="the daemon's platform timeout, s")
    parser.add_argument("--drain-timeout", type=float, default=600, help="how long the final daemon may take, s")
    parser.add_argument("--keep", metavar="DIR", help="keep config, logs and ledger here instead of a temp dir")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sync-daemon-soak-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run_soak(
            args.orders,
            args.kills,
            workdir,
            seed=args.seed,
            client_timeout=args.client_timeout,
            drain_timeout=args.drain_timeout,
            echo=lambda text: print(text, file=sys.stderr),
        )
    passed, text = report(result)
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
