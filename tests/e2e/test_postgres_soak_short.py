"""The PostgreSQL soak (bench/postgres_soak.py) at a size the suite can afford: 300 orders, 3 × kill -9.

Two real ``sync-daemon run`` on one shop and one PostgreSQL ledger, platform faults on, one daemon killed
and started again three times (the leader twice). The full soak (3 000 orders, 10 kills) is
``python bench/postgres_soak.py``; this runs the same code.
"""

from __future__ import annotations

import pytest

from bench.postgres_soak import CONCURRENCY, PLATFORMS, PgKill, report, run_soak
from tests.postgres_server import server_binaries

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(server_binaries() is None, reason="PostgreSQL server binaries not found"),
]


def test_two_daemons_on_one_postgres_ledger_survive_kills_and_deliver_each_order_once(tmp_path):
    result = run_soak(300, 3, tmp_path, seed=7, down_seconds=2.0, up_seconds=(0.3, 0.8), drain_timeout=120)
    passed, text = report(result)
    print(text)  # the figures, with pytest -s
    assert passed, text
    assert result.drained and result.exit_codes == [0, 0], text
    kills = [kill for kill in result.kills if isinstance(kill, PgKill)]
    assert len(kills) == 3 and [kill.leader for kill in kills] == [True, False, True], text
    for kill in kills:
        if kill.leader:
            # The survivor takes the lead within a beat or two of leader_check_seconds = 1.
            assert kill.took_lead_after is not None and kill.took_lead_after < 2.0, text
            assert kill.first_poll_after is not None, text
    # The first kill falls early in the backfill: the survivor went on delivering meanwhile.
    assert kills[0].delivered_while_down > 0, text
    for platform in PLATFORMS:
        fired = result.fault_counts[platform]
        for kind in ("status", "timeout", "reset", "commit_then_500"):
            assert fired.get(kind, 0) > 0, f"{platform}: no {kind} fault fired\n{text}"
        assert sum(result.held[platform].values()) == 300, text
        assert set(result.held[platform].values()) == {1}, text
        for kill in kills:
            assert kill.resent[platform] <= kill.in_flight[platform] <= CONCURRENCY, text
