"""The fault soak (bench/soak.py) at a size the suite can afford: 300 orders, 3 × kill -9.

The full soak (2 000 orders, 10 kills) is ``python bench/soak.py``; this runs the same code.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from bench.soak import CONCURRENCY, PLATFORMS, Kill, SoakResult, report, run_soak, unexplained_creates, verdicts


def test_short_soak_loses_nothing_and_creates_nothing_twice(tmp_path):
    result = run_soak(300, 3, tmp_path, seed=7, drain_timeout=240)
    passed, text = report(result)
    assert passed, text
    assert result.drained, text
    assert result.unexplained_creates == [], text
    assert len(result.kills) == 3
    for platform in PLATFORMS:
        # The faults really happened: a soak without them would prove nothing.
        fired = result.fault_counts[platform]
        for kind in ("status", "timeout", "reset", "commit_then_500"):
            assert fired.get(kind, 0) > 0, f"{platform}: no {kind} fault fired\n{text}"
        assert sum(result.held[platform].values()) == 300, text
        assert set(result.held[platform].values()) == {1}, text
        for kill in result.kills:
            # Every outcome is recorded as it comes back: a kill sends again at most what was out.
            assert kill.resent[platform] <= kill.in_flight[platform] <= CONCURRENCY, text


def _result(held_gotrack: Counter[str]) -> SoakResult:
    totals = {1: (Decimal("100.00"), "BDT"), 2: (Decimal("5"), "BDT"), 3: (Decimal("7"), "BDT")}
    result = SoakResult(orders=3, totals=totals)
    held_orderrepo = Counter({"1": 1, "2": 1, "3": 1})
    result.held = {"gotrack": held_gotrack, "orderrepo": held_orderrepo}
    result.stored_totals = {
        "gotrack": {key: {"1": 100, "2": 5, "3": 7}[key] for key in held_gotrack},
        "orderrepo": {"1": 10000, "2": 500, "3": 700},
    }
    result.create_requests = {platform: Counter() for platform in PLATFORMS}
    result.final_exit_code = 0
    result.drained = True
    return result


def test_the_verdict_fails_on_a_loss_and_on_a_duplicate():
    assert report(_result(Counter({"1": 1, "2": 1, "3": 1})))[0] is True
    lost = verdicts(_result(Counter({"1": 1, "2": 1})))
    assert lost[0].missing == [3] and not lost[0].ok
    doubled = _result(Counter({"1": 1, "2": 2, "3": 1}))
    passed, text = report(doubled)
    assert not passed and "gotrack held twice: [2]" in text


def test_the_verdict_fails_on_a_wrong_total():
    wrong = _result(Counter({"1": 1, "2": 1, "3": 1}))
    wrong.stored_totals["gotrack"]["1"] = 99
    passed, text = report(wrong)
    assert not passed and "gotrack wrong total" in text


def test_a_create_after_the_platform_confirmed_the_order_counts_unless_a_kill_explains_it():
    def answered(*events):  # (arrived, action, status): each answered 10 ms after it arrived
        return [[at, action, status, at + 0.01] for at, action, status in events]

    history = {
        # created (answer lost: 500 after commit), refused as existing, read, update 500, created again
        "1": answered((10.0, "track", 500), (11.0, "track", 422), (11.1, "read", 200), (11.2, "update", 500),
                      (12.0, "track", 422)),
        # created, in flight at the kill at 20.5 s, created again after the restart
        "2": answered((20.0, "track", 201), (21.5, "track", 422)),
        # created once; a create held by a timeout fault arrived before the confirmation, logged after it
        "3": [[29.0, "track", None, 30.5], [30.0, "track", 201, 30.01]],
    }
    kill = Kill(at=0.0, delivered=0, sending=1, early=False, wall=20.5, sending_ids={"orderrepo": {2}})
    (found,) = unexplained_creates(history, [kill], "orderrepo")
    assert found.startswith("1: create answered 422, 0.89 s after confirmed (track 500 at 0.00, track 422 at 1.00,")
    result = _result(Counter({"1": 1, "2": 1, "3": 1}))
    result.unexplained_creates = unexplained_creates(history, [kill], "orderrepo")
    passed, text = report(result)
    assert not passed and "re-sent creates that no kill explains (orderrepo): 1 (must be 0)" in text
