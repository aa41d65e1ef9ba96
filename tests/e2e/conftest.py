"""Simulators for end-to-end tests, started fresh for each test."""

from __future__ import annotations

import pytest

from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
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


@pytest.fixture
def orderrepo():
    with OrderRepoSimulator(allowed_origins=("https://shop.example.com",), events={"evt-created": True}) as simulator:
        yield simulator
