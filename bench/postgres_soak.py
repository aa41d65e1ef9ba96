"""Fault soak of a shared PostgreSQL ledger: two daemons on one shop, one of them killed again and again.

    python bench/postgres_soak.py                          # 3 000 orders, 10 × kill -9
    python bench/postgres_soak.py --orders 300 --kills 3   # the size tests/e2e/test_postgres_soak_short.py runs

What runs: a throw-away PostgreSQL cluster (``bench/_postgres.py``: the test cluster of
``tests/postgres_server.py``), the simulators in a process of their own with the faults of
``bench/soak.py`` (GoTrack and OrderRepo: 10 % 503, 5 % timeouts, 5 % resets, 3 % "commit then 500",
bursts of 429 with Retry-After; WooCommerce: 5 % 503), and two ``sync-daemon run`` on one config: one
shop, ``[ledger] url`` the cluster's database, ``lease_seconds = 12`` and ``leader_check_seconds = 1``
(the smallest allowed, so that a killed daemon's rows come back within seconds).

Every few seconds one daemon is killed with SIGKILL, left down for ``--down`` seconds and started again;
the kills alternate between the daemon that leads (polls WooCommerce) and the one that does not, the
leader first, so at least half of them take the leader down. Per kill:

- the requests in flight of the killed daemon (its rows ``sending``) and, among them, the re-sends
  (and, for the whole run, the re-sent creates no kill explains, as ``bench/soak.py`` counts them)
  (orders the platform already holds, which will go out again once the lease ends), per platform;
- the deliveries made while it was down (by the survivor alone): they must not stop;
- for a killed leader, the fail-over: from the kill to the survivor's "took the lead" log line, and to
  the first WooCommerce orders request after the kill (the simulator's request log).

After the last restart both daemons run, faults still on, until every delivery row is final, and are
stopped with SIGTERM (both must exit 0). Then: every order held exactly once by each platform with the
right total (the checks of ``bench/soak.py``), every row final, none ``sending`` and none still leased
(no lease lost), no kill that re-sent more than could have been in flight. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import DaemonProcess, SimulatorProcess, daemon_config, table, wait_until  # noqa: E402
from bench._postgres import Cluster, PostgresLedgerReader, add_ledger_section  # noqa: E402
from bench.soak import (  # noqa: E402
    CONCURRENCY,
    PLATFORMS,
    SETTLE_AFTER_KILL_SECONDS,
    Kill,
    SoakResult,
    _Bursts,
    _held_ids,
    platform_faults,
    unexplained_creates,
    unexplained_lines,
    verdicts,
)

SHOP_ID = "soak.example.com"
# The smallest lease a 1 s client timeout allows (2 × timeout + 10 s): a killed daemon's rows are
# taken over this long after the kill.
LEASE_SECONDS = 12
LEADER_CHECK_SECONDS = 1  # the smallest allowed: the survivor tries the lead every second
WOOCOMMERCE_ORDERS = "/wp-json/wc/v3/orders"
# Rows left at a kill, not counting those leased to the killed daemon, below which the survivor may have
# nothing it is allowed to send while the other is down (all waiting for a retry, or a platform paused).
IDLE_TAIL_ROWS = 20
FINAL_STATES = ("delivered", "rejected", "dead")


@dataclass
class PgKill(Kill):
    """One kill -9 of one of the two daemons."""

    daemon: int = 0  # which of the two (0 or 1)
    leader: bool = False  # it held the lead when it fell
    down_seconds: float = 0.0  # until it was started again
    remaining: int = 0  # rows not final yet at the kill (both platforms)
    leased: int = 0  # of those, leased to a killed daemon (its queue and its requests in flight)
    delivered_while_down: int = 0  # rows delivered (by the survivor alone) while it was down
    took_lead_after: float | None = None  # killed leader → the survivor's "took the lead" line, s
    first_poll_after: float | None = None  # killed leader → the new leader's first WooCommerce orders request, s
    killed_at: float = 0.0  # epoch seconds
    lead_taken_at: float | None = None  # epoch seconds of the survivor's "took the lead" line


@dataclass
class PgSoakResult(SoakResult):
    """What the verdict is made of (``SoakResult`` plus what two daemons add)."""

    exit_codes: list[int | None] = field(default_factory=list)
    sending_left: int = 0
    crashes: list[str] = field(default_factory=list)  # "pass crashed" (and other errors of a job) in the logs
    # Once everything is delivered, the leader killed again: kill → "took the lead", kill → first poll (s).
    idle_failover: tuple[float | None, float | None] | None = None
    leased_left: int = 0
    settings: str = ""


def _event_seconds(event: dict[str, Any]) -> float | None:
    stamp = event.get("timestamp")
    if not isinstance(stamp, str):
        return None
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def leads(daemon: DaemonProcess) -> bool:
    """Whether the daemon leads now, by its own log: its start line, then every lead it took or lost."""
    leading = False
    for event in daemon.log_events():
        text = str(event.get("event", ""))
        if text == "sync-daemon started":
            leading = bool(event.get("leads"))
        elif text.startswith("took the lead"):
            leading = True
        elif text.startswith(("lost the lead", "the shared ledger cannot be reached")):
            leading = False
    return leading


def started(daemon: DaemonProcess) -> bool:
    """The daemon logged its start (config read, ledger open, schedule running)."""
    return bool(daemon.log_events("sync-daemon started"))


def _took_lead_at(daemons: list[DaemonProcess], after: float) -> float | None:
    """Epoch seconds of the first "took the lead" line (or start as the leader) after ``after``, of any of them."""
    found = []
    for daemon in daemons:
        for event in daemon.log_events():
            text = str(event.get("event", ""))
            if text.startswith("took the lead") or (text == "sync-daemon started" and event.get("leads")):
                at = _event_seconds(event)
                if at is not None and at >= after:
                    found.append(at)
    return min(found, default=None)


def _first_poll_at(sims: SimulatorProcess, after: float) -> float | None:
    """The first WooCommerce orders request the simulator logged after ``after`` (epoch seconds)."""
    for request in sims.admin("woocommerce", "GET", "requests")["requests"]:
        if request["method"] == "GET" and request["route"] == WOOCOMMERCE_ORDERS and request["time"] > after:
            return float(request["time"])
    return None


def _idle_failover(
    sims: SimulatorProcess, daemons: list[DaemonProcess], down_seconds: float
) -> tuple[float | None, float | None]:
    """Kill the leader with nothing left to deliver; returns (took the lead, first poll) seconds after the kill.

    During the backfill a new leader's first poll waits for the pass it is in (a deliver-only pass
    goes on while rows are due); with nothing due this is the fail-over a running shop sees.
    """
    if not wait_until(lambda: any(leads(daemon) for daemon in daemons), timeout=30):
        return None, None
    victim = next(index for index, daemon in enumerate(daemons) if leads(daemon))
    survivor = daemons[1 - victim]
    daemons[victim].kill()
    at_wall = time.time()
    wait_until(lambda: _took_lead_at([survivor], at_wall) is not None, timeout=max(down_seconds, 5.0))
    took = _took_lead_at([survivor], at_wall)
    if took is None:
        return None, None
    wait_until(lambda: _first_poll_at(sims, took) is not None, timeout=10)
    polled = _first_poll_at(sims, took)
    return took - at_wall, None if polled is None else polled - at_wall


def _crashes(workdir: Path) -> list[str]:
    """Every pass (or leader's job) that crashed, in every daemon's log: file and the error's last line.

    Neither a kill of the other daemon nor a platform's or WooCommerce's fault is a reason for one.
    """
    found = []
    for path in sorted(workdir.glob("daemon-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "crashed" not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if "crashed" in str(event.get("event", "")):
                error = str(event.get("exception", "")).strip().splitlines() or ["?"]
                found.append(f"{path.name}: {event['event']}: {error[-1][:200]}")
    return found


def _first_polls(sims: SimulatorProcess, kills: list[Kill]) -> None:
    """Fill in the first poll after each leader kill that has none yet: the first WooCommerce orders request
    after the survivor took the lead (so never a request of the killed leader that was still being answered).
    """
    for kill in kills:
        if isinstance(kill, PgKill) and kill.lead_taken_at is not None and kill.first_poll_after is None:
            polled = _first_poll_at(sims, kill.lead_taken_at)
            kill.first_poll_after = None if polled is None else polled - kill.killed_at


def _victim_out(
    ledger: PostgresLedgerReader, sims: SimulatorProcess, pid: int
) -> tuple[dict[str, set[int]], dict[str, int]]:
    """Per platform: the killed daemon's orders 'sending' (its requests in flight), and how many the platform holds."""
    time.sleep(SETTLE_AFTER_KILL_SECONDS)
    sending: dict[str, set[int]] = {platform: set() for platform in PLATFORMS}
    # A daemon's lease owner is host:pid:token.
    for destination, order_id in ledger.query(
        "SELECT destination, order_id FROM deliveries WHERE state = 'sending' AND leased_by LIKE ?", [f"%:{pid}:%"]
    ):
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


def run_soak(
    orders: int,
    kills: int,
    workdir: Path,
    *,
    seed: int = 1,
    client_timeout: float = 1.0,
    down_seconds: float = 3.0,
    up_seconds: tuple[float, float] = (1.0, 2.0),
    drain_timeout: float = 300,
    echo: Any = lambda text: None,
) -> PgSoakResult:
    """The soak itself; returns what the verdict needs (``report`` turns it into a table)."""
    rng = random.Random(seed)
    started_at = time.monotonic()
    base = platform_faults(timeout_delay=client_timeout * 1.5)
    with Cluster() as cluster, SimulatorProcess(generate=orders, seed=seed) as sims:
        url = cluster.database("soak")
        totals = {}
        for order_id in range(1, orders + 1):
            order = sims.admin("woocommerce", "GET", f"orders/{order_id}")["order"]
            totals[order_id] = (Decimal(order["total"]), str(order["currency"]).upper())
        result = PgSoakResult(orders=orders, totals=totals, settings=f"{cluster.version()}, {cluster.settings}")
        for index, platform in enumerate(PLATFORMS):
            sims.admin(platform, "PUT", "faults", {"rules": base, "seed": seed * 100 + index})
        sims.admin("woocommerce", "PUT", "faults", {"rules": [{"kind": "status", "status": 503, "probability": 0.05}]})
        config = daemon_config(
            workdir / "config.toml",
            woocommerce=sims.info["woocommerce"],
            gotrack=sims.info["gotrack"],
            orderrepo=sims.info["orderrepo"],
            state_dir=workdir / "state",
            poll_interval=1,
            timeout=client_timeout,
            # As bench/soak.py: compressed and long, so a row failing 40 times in a row means something is stuck.
            retry_schedule=[0.5, 1, 1, *[2] * 37],
            retry_jitter=0.2,
        )
        add_ledger_section(
            config, url, shop_id=SHOP_ID, lease_seconds=LEASE_SECONDS, leader_check_seconds=LEADER_CHECK_SECONDS
        )
        ledger = PostgresLedgerReader(url, SHOP_ID)
        total_rows = orders * len(PLATFORMS)
        starts = Counter[int]()

        def start(index: int) -> DaemonProcess:
            starts[index] += 1
            return DaemonProcess(config, workdir / f"daemon-{'ab'[index]}-{starts[index]}.log")

        def remaining() -> int:
            states = ledger.states()
            final = sum(by_state.get(name, 0) for by_state in states.values() for name in FINAL_STATES)
            return total_rows - final

        # Both at once: they migrate the new database together, and one of them takes the lead.
        daemons = [start(0), start(1)]
        bursts = _Bursts(sims, rng, base, seed * 1000)
        bursts.start()
        try:
            for number in range(kills):
                # Both up (a restarted one has read its config and opened the ledger), then a few seconds more.
                if not wait_until(lambda: all(started(daemon) or not daemon.alive() for daemon in daemons), 60):
                    raise RuntimeError("a restarted daemon did not start within 60 s")
                time.sleep(rng.uniform(*up_seconds))
                # Spread over the backfill, as bench/soak.py does: kill n once n / (kills + 1) of it is delivered.
                target = (number + 1) * total_rows // (kills + 1)
                wait_until(lambda target=target: ledger.delivered() >= target, timeout=120)
                for daemon in daemons:
                    if not daemon.alive():
                        raise RuntimeError(f"a daemon died by itself; see {daemon.log_path}")
                want_leader = number % 2 == 0
                if not wait_until(lambda: any(leads(daemon) for daemon in daemons), timeout=30):
                    raise RuntimeError("no daemon took the lead within 30 s")
                victim = next(i for i, daemon in enumerate(daemons) if leads(daemon) == want_leader)
                survivor = daemons[1 - victim]
                killed = daemons[victim]
                left = remaining()
                killed.kill()
                # What the survivor may not touch until the lease ends: rows the killed one had taken (and
                # those of an earlier kill whose lease has not ended yet).
                held_back = int(ledger.query(
                    "SELECT COUNT(*) FROM deliveries WHERE leased_by NOT LIKE ? AND leased_until > ?"
                    " AND state IN ('pending', 'retrying', 'sending')",
                    [f"%:{survivor.process.pid}:%", time.time()],
                )[0][0])
                at_wall = time.time()
                at = time.monotonic() - started_at
                delivered_at_kill = ledger.delivered()
                sending, resent = _victim_out(ledger, sims, killed.pid)
                in_flight = {platform: len(ids) for platform, ids in sending.items()}
                states = ledger.states()
                time.sleep(max(down_seconds - SETTLE_AFTER_KILL_SECONDS, 0.0))
                kill = PgKill(
                    at=at,
                    delivered=delivered_at_kill,
                    sending=sum(by_state.get("sending", 0) for by_state in states.values()),
                    early=False,
                    in_flight=in_flight,
                    resent=resent,
                    wall=at_wall,
                    sending_ids=sending,
                    daemon=victim,
                    leader=want_leader,
                    remaining=left,
                    leased=held_back,
                    delivered_while_down=ledger.delivered() - delivered_at_kill,
                )
                if not survivor.alive():
                    raise RuntimeError(f"the surviving daemon died by itself; see {survivor.log_path}")
                if want_leader:
                    took = _took_lead_at([survivor], at_wall)
                    kill.took_lead_after = None if took is None else took - at_wall
                    kill.lead_taken_at = took
                daemons[victim] = start(victim)
                kill.down_seconds = time.monotonic() - started_at - at
                kill.killed_at = at_wall
                result.kills.append(kill)
                _first_polls(sims, result.kills)
                echo(
                    f"kill -9 #{number + 1} at {at:.1f} s of daemon {'ab'[victim]}"
                    f" ({'leader' if want_leader else 'follower'}): {kill.delivered_while_down} delivered while down,"
                    f" in flight {in_flight}, re-sent {resent}, took the lead after {kill.took_lead_after},"
                    f" first poll after {kill.first_poll_after}"
                )

            def finished() -> bool:
                return remaining() == 0 or not all(daemon.alive() for daemon in daemons)

            # Rows the last killed daemon had leased come back when the lease ends: wait for those too.
            result.drained = wait_until(finished, timeout=drain_timeout, interval=0.5) and remaining() == 0
            bursts.stop.set()
            if result.drained:
                result.idle_failover = _idle_failover(sims, daemons, down_seconds)
                daemons = [daemon if daemon.alive() else start(index) for index, daemon in enumerate(daemons)]
                wait_until(lambda: all(started(daemon) or not daemon.alive() for daemon in daemons), 60)
            result.exit_codes = [daemon.stop(timeout=60) for daemon in daemons]
            _first_polls(sims, result.kills)
        finally:
            bursts.stop.set()
            bursts.join(timeout=10)
            for daemon in daemons:
                if daemon.alive():
                    daemon.kill()
        result.final_exit_code = 0 if all(code == 0 for code in result.exit_codes) else 1
        result.crashes = _crashes(workdir)
        result.bursts = bursts.count
        result.seconds = time.monotonic() - started_at
        result.states = ledger.states()
        result.leftovers = [
            (order_id, destination, state, error or "")
            for order_id, destination, state, error in ledger.query(
                "SELECT order_id, destination, state, last_error FROM deliveries WHERE state != 'delivered'"
            )
        ]
        result.sending_left = int(ledger.query("SELECT COUNT(*) FROM deliveries WHERE state = 'sending'")[0][0])
        result.leased_left = int(
            ledger.query("SELECT COUNT(*) FROM deliveries WHERE leased_by IS NOT NULL AND state = 'delivered'")[0][0]
        )
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


def violations(result: PgSoakResult) -> list[str]:
    """Every broken promise, one line each (empty: the soak passed)."""
    found = []
    for verdict in verdicts(result):
        for label, items in (
            ("missing", verdict.missing),
            ("held twice", verdict.duplicates),
            ("wrong total", verdict.wrong_totals),
            ("unexplained ledger rows", verdict.bad_rows),
        ):
            if items:
                found.append(f"{verdict.platform} {label}: {items[:20]}{' …' if len(items) > 20 else ''}")
    if not result.drained:
        states = "; ".join(f"{name}: {dict(by_state)}" for name, by_state in sorted(result.states.items()))
        found.append(f"not every delivery row is final at the end ({states})")
    if result.sending_left:
        found.append(f"{result.sending_left} rows left 'sending' at the end (a lease lost)")
    if result.leased_left:
        found.append(f"{result.leased_left} delivered rows still carry a lease")
    for number, kill in enumerate(result.kills, start=1):
        assert isinstance(kill, PgKill)
        if kill.remaining - kill.leased >= IDLE_TAIL_ROWS and kill.delivered_while_down == 0:
            found.append(f"kill #{number}: nothing delivered in {kill.down_seconds:.1f} s while daemon"
                         f" {'ab'[kill.daemon]} was down ({kill.remaining} rows still to deliver)")
        if kill.leader and kill.took_lead_after is None:
            found.append(f"kill #{number}: the leader fell and the survivor did not take the lead within"
                         f" {kill.down_seconds:.1f} s")
        elif kill.leader and kill.first_poll_after is None:
            found.append(f"kill #{number}: the survivor took the lead but never polled WooCommerce")
        for platform in PLATFORMS:
            if kill.resent.get(platform, 0) > CONCURRENCY:
                found.append(f"{platform}: kill #{number} sent {kill.resent[platform]} requests again, more than"
                             f" the {CONCURRENCY} one daemon may have in flight")
    if sum(1 for kill in result.kills if isinstance(kill, PgKill) and kill.leader) * 2 < len(result.kills):
        found.append("fewer than half of the kills took the leader down")
    if result.drained and (result.idle_failover is None or None in result.idle_failover):
        found.append(f"the leader killed with nothing left to deliver: no fail-over ({result.idle_failover})")
    if result.unexplained_creates:
        found.append(f"{len(result.unexplained_creates)} re-sent create(s) that no kill explains")
    if result.crashes:
        found.append(f"{len(result.crashes)} crash(es) in the daemons' logs: {result.crashes[:5]}")
    for index, code in enumerate(result.exit_codes):
        if code != 0:
            found.append(f"daemon {'ab'[index]} exited with {code} on SIGTERM (expected 0)")
    return found


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def report(result: PgSoakResult) -> tuple[bool, str]:
    """The verdict table and whether the soak passed."""
    leader_kills = [kill for kill in result.kills if isinstance(kill, PgKill) and kill.leader]
    lines = [
        f"== PostgreSQL soak: {result.orders} orders to GoTrack + OrderRepo, two daemons on one shop,"
        f" {len(result.kills)} × kill -9 ({len(leader_kills)} of the leader), {result.seconds:.0f} s ==",
        f"server: {result.settings}; lease_seconds = {LEASE_SECONDS}, leader_check_seconds = {LEADER_CHECK_SECONDS}",
    ]
    for platform in PLATFORMS:
        faults = result.fault_counts.get(platform, {})
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(faults.items())) or "none"
        lines.append(f"faults injected by {platform}: {shown}; 429 bursts: {result.bursts[platform]}")
    if "woocommerce" in result.fault_counts:
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(result.fault_counts["woocommerce"].items()))
        lines.append(f"faults injected by woocommerce: {shown or 'none'}")
    lines.append("")
    rows = []
    for number, kill in enumerate(result.kills, start=1):
        assert isinstance(kill, PgKill)
        rows.append([
            number,
            f"{kill.at:.1f} s",
            f"{'ab'[kill.daemon]} ({'leader' if kill.leader else 'follower'})",
            f"{kill.remaining} ({kill.leased} leased)",
            f"{kill.delivered_while_down} in {kill.down_seconds:.1f} s",
            _seconds(kill.took_lead_after) if kill.leader else "",
            _seconds(kill.first_poll_after) if kill.leader else "",
            *(f"{kill.resent.get(platform, 0)} / {kill.in_flight.get(platform, 0)}" for platform in PLATFORMS),
        ])
    lines.append(
        "per kill: rows still to deliver at the kill (leased: to a killed daemon, untouchable until the lease ends),"
        " delivered by the survivor while the other was down,"
        " fail-over (kill → \"took the lead\", kill → first WooCommerce poll), and per platform the"
        f" re-sends / requests in flight of the killed daemon (at most {CONCURRENCY} may be out):"
    )
    lines.append(table(rows, ["kill", "at", "daemon", "to deliver", "delivered while down", "took the lead",
                              "first poll", *(f"{platform} re-sent" for platform in PLATFORMS)]))
    if leader_kills:
        took = [kill.took_lead_after for kill in leader_kills if kill.took_lead_after is not None]
        polled = [kill.first_poll_after for kill in leader_kills if kill.first_poll_after is not None]
        if took and polled:
            lines.append(
                f"fail-over: took the lead {min(took):.2f}–{max(took):.2f} s after the kill (mean"
                f" {sum(took) / len(took):.2f} s); first WooCommerce poll {min(polled):.2f}–{max(polled):.2f} s"
                f" (mean {sum(polled) / len(polled):.2f} s)"
            )
    if result.idle_failover is not None:
        took_idle, polled_idle = result.idle_failover
        lines.append(
            f"fail-over with nothing left to deliver (the leader killed after the backfill): took the lead"
            f" {_seconds(took_idle)}, first WooCommerce poll {_seconds(polled_idle)} after the kill"
            " (during the backfill the new leader's first poll waits for the deliver-only pass it is in)"
        )
    for platform in PLATFORMS:
        total = sum(kill.resent.get(platform, 0) for kill in result.kills)
        if result.kills:
            lines.append(f"{platform}: {total / len(result.kills):.1f} re-sent per kill"
                         f" ({total} in all, max in flight {max(k.in_flight.get(platform, 0) for k in result.kills)})")
    lines += unexplained_lines(result)
    lines.append("")
    verdict_rows = []
    for verdict in verdicts(result):
        verdict_rows.append([
            verdict.platform, result.orders, verdict.held, len(verdict.missing), len(verdict.duplicates),
            len(verdict.wrong_totals), len(verdict.pending), len(verdict.bad_rows),
            f"{verdict.resent} (max {verdict.max_requests})", "OK" if verdict.ok else "FAIL",
        ])
    lines.append(table(verdict_rows, ["platform", "orders", "held", "missing", "twice", "wrong total",
                                      "not final", "bad ledger rows", "sent more than once", "verdict"]))
    states = "; ".join(
        f"{name}: " + ", ".join(f"{count} {state}" for state, count in sorted(by_state.items()))
        for name, by_state in sorted(result.states.items())
    )
    lines.append(f"ledger at the end: {states}; 'sending' left: {result.sending_left}; exit codes on SIGTERM:"
                 f" {result.exit_codes}")
    found = violations(result)
    lines += found
    lines.append(f"verdict: {'PASS' if not found else 'FAIL'}")
    return not found, "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3000, help="orders (default 3 000)")
    parser.add_argument("--kills", type=int, default=10, help="kill -9 during the backfill (default 10)")
    parser.add_argument("--down", type=float, default=3.0, help="seconds a killed daemon stays down (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of orders, faults and kill moments")
    parser.add_argument("--client-timeout", type=float, default=1.0, help="the daemons' platform timeout, s")
    parser.add_argument("--drain-timeout", type=float, default=600, help="how long the end may take, s")
    parser.add_argument("--keep", metavar="DIR", help="keep config and logs here instead of a temp dir")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sync-daemon-pg-soak-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run_soak(
            args.orders,
            args.kills,
            workdir,
            seed=args.seed,
            client_timeout=args.client_timeout,
            down_seconds=args.down,
            drain_timeout=args.drain_timeout,
            echo=lambda text: print(text, file=sys.stderr),
        )
    passed, text = report(result)
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
