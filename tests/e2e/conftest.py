"""Simulators for end-to-end tests, started fresh for each test.

``woocommerce``, ``gotrack``, ``shopback`` and ``tracktor`` come from ``tests/conftest.py``; the
OrderRepo simulator here also knows the event key the event tests configure.
"""

from __future__ import annotations

import pytest

from sync_daemon.simulators.orderrepo import OrderRepoSimulator


def pytest_collection_modifyitems(items):
    """Mark every test of this directory ``e2e`` (a conftest's ``pytestmark`` does not reach them)."""
    for test in items:
        if "/tests/e2e/" in str(test.path):
            test.add_marker(pytest.mark.e2e)


@pytest.fixture
def orderrepo():
    """The shop's Origin allowed, and the active event key ``evt-created``."""
    with OrderRepoSimulator(allowed_origins=("https://shop.example.com",), events={"evt-created": True}) as simulator:
        yield simulator
