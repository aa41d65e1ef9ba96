"""Orders sharing one modification second, more of them than three pages (issue 27): the real CLI
reads every one and delivers each exactly once, whatever order the shop returns the tied rows in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sync_daemon.simulators.orders import make_order

from .harness import Daemon, wait_until, write_config

pytestmark = pytest.mark.both_storages  # posts storage and HPOS (tests/conftest.py)


TIED = 23  # five a page: more than four pages of one second


def test_every_order_of_one_busy_second_is_delivered_exactly_once(tmp_path, woocommerce, gotrack, orderrepo):
    second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    before = [make_order(1 + index, created=second - timedelta(seconds=3 - index)) for index in range(3)]
    tied = [make_order(100 + index, created=second) for index in range(TIED)]
    after = [make_order(200 + index, created=second + timedelta(seconds=1 + index)) for index in range(3)]
    woocommerce.add_orders(before + tied + after)
    expected = {str(order["id"]) for order in before + tied + after}
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo, **{"woocommerce.per_page": "5"})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: set(gotrack_ids(gotrack)) == expected, timeout=60), sorted(gotrack_ids(gotrack))
        assert wait_until(lambda: {stored["external_id"] for stored in orderrepo.orders()} == expected, timeout=60)
        # Later polls re-read the overlap, that second included: nothing goes out again.
        passes = len(finished_passes(daemon))
        assert wait_until(lambda: len(finished_passes(daemon)) >= passes + 3, timeout=60)
    finally:
        assert daemon.stop() == 0
    assert set(gotrack_ids(gotrack).values()) == {1}
    assert Counter(stored["external_id"] for stored in orderrepo.orders()) == dict.fromkeys(expected, 1)
    assert all(stored["update_requests"] == 0 for stored in orderrepo.orders())


def gotrack_ids(gotrack):
    """external_order_id → how many orders GoTrack holds for it."""
    return Counter(order["payload"]["external_order_id"] for order in gotrack.orders())


def finished_passes(daemon):
    return [line for line in daemon.log_lines() if line.get("event") == "pass finished"]
