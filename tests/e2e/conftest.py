"""Simulators for end-to-end tests, started fresh for each test."""

from __future__ import annotations

import pytest

from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.woocommerce import WooCommerceSimulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def woocommerce():
    with WooCommerceSimulator() as simulator:
        yield simulator


@pytest.fixture
def gotrack():
    with GoTrackSimulator() as simulator:
        yield simulator
