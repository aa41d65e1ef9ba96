"""``bench/backfill.py --pin``: which CPUs the simulators and the client side are given."""

from __future__ import annotations

import pytest

from bench import backfill


def test_no_pinning_leaves_both_sides_to_the_kernel():
    assert backfill.pinned_cpus(None) == (None, None)


def test_pin_both_gives_the_simulators_and_the_client_one_cpu_each(monkeypatch):
    monkeypatch.setattr(backfill.os, "sched_getaffinity", lambda pid: {5, 2, 7})
    assert backfill.pinned_cpus("both") == ({5}, {2})


def test_pin_client_pins_only_the_client(monkeypatch):
    monkeypatch.setattr(backfill.os, "sched_getaffinity", lambda pid: {3, 1})
    assert backfill.pinned_cpus("client") == (None, {1})


def test_pinning_on_one_cpu_is_refused_with_the_reason(monkeypatch):
    monkeypatch.setattr(backfill.os, "sched_getaffinity", lambda pid: {0})
    with pytest.raises(SystemExit, match="needs 2 CPUs or more; this process may use 1"):
        backfill.pinned_cpus("both")


def test_the_option_accepts_only_the_two_modes():
    assert backfill.parse_args(["--pin", "both"]).pin == "both"
    assert backfill.parse_args([]).pin is None
    with pytest.raises(SystemExit):
        backfill.parse_args(["--pin", "all"])
