"""The platform contract (``tests/contract/platform.py``) run against every platform that delivers orders.

Parametrised over the registry: a platform registered with ``delivers = True`` runs the whole
suite against its simulator as soon as it has a harness in ``tests/contract/harnesses.py``, and
fails here until it has one.
"""

from __future__ import annotations

import pytest

from sync_daemon.platforms import REGISTRY
from tests.contract.harnesses import HARNESSES
from tests.contract.platform import PlatformContract

DELIVERING = [name for name, platform in REGISTRY.items() if platform.delivers]


def test_every_delivering_platform_has_a_harness():
    assert [name for name in DELIVERING if name not in HARNESSES] == []


def test_every_harness_is_for_a_registered_delivering_platform():
    assert [name for name in HARNESSES if name not in DELIVERING] == []


@pytest.fixture(scope="module", params=DELIVERING)
def harness(request):
    """One delivering platform's harness, its simulator running for the whole module."""
    harness_class = HARNESSES.get(request.param)
    if harness_class is None:
        pytest.fail(f"{request.param} delivers orders but has no harness in tests/contract/harnesses.py")
    with harness_class() as started:
        yield started


class TestPlatformContract(PlatformContract):
    """The contract, once per delivering platform in the registry."""
