"""Shared fixtures: real-shaped WooCommerce orders and settings, the simulators, captured logs."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from pathlib import Path

import pytest
import structlog

from sync_daemon.core import logs
from sync_daemon.simulators import (
    GoTrackSimulator,
    OrderRepoSimulator,
    ShopBackSimulator,
    TracktorSimulator,
    WooCommerceSimulator,
)

DATA = Path(__file__).parent / "data"


def load_order(name: str = "wc_order_tax_coupon_fees.json") -> dict:
    """A fresh copy of a stored WooCommerce order."""
    return copy.deepcopy(json.loads((DATA / name).read_text(encoding="utf-8")))


@pytest.fixture
def wc_order() -> dict:
    """A processing BDT order with VAT, a coupon, shipping, a COD fee and a gift-wrap fee."""
    return load_order()


# -- simulators: each a real HTTP server on 127.0.0.1, started for one test and stopped after it --

SHOP_ORIGIN = "https://shop.example.com"  # the shop's Origin; the orderrepo fixture allows it


STORAGE_MODES = ("posts", "hpos")  # WooCommerce's order storages (docs in simulators/woocommerce.py)


def pytest_generate_tests(metafunc):
    """A module marked ``both_storages`` runs each test using the shop simulator once per storage mode."""
    if "storage_mode" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_storages"):
        metafunc.parametrize("storage_mode", STORAGE_MODES)


@pytest.fixture
def storage_mode() -> str:
    """The shop's order storage: ``posts`` unless the module is marked ``both_storages``."""
    return "posts"


@pytest.fixture
def woocommerce(storage_mode):
    """The WooCommerce REST API simulator (read-write key), in the test's storage mode."""
    with WooCommerceSimulator(storage=storage_mode) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def woocommerce_for_module():
    """One WooCommerce simulator for a whole test module; reset it before each test that uses it."""
    with WooCommerceSimulator() as simulator:
        yield simulator


@pytest.fixture
def gotrack():
    """The GoTrack.bd simulator, with fresh credentials."""
    with GoTrackSimulator() as simulator:
        yield simulator


@pytest.fixture
def orderrepo():
    """The OrderRepo simulator, allowing the shop's Origin (``SHOP_ORIGIN``)."""
    with OrderRepoSimulator(allowed_origins=(SHOP_ORIGIN,)) as simulator:
        yield simulator


@pytest.fixture
def shopback():
    """The ShopBack postback simulator for offer 5120 (not the example's placeholder 1234), with a fresh token."""
    with ShopBackSimulator(offer_id="5120") as simulator:
        yield simulator


@pytest.fixture
def tracktor():
    """The Tracktor simulator, with fresh credentials."""
    with TracktorSimulator() as simulator:
        yield simulator


@pytest.fixture
def captured_logs():
    """Production logging (logs.configure) into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure(level="debug", log_format="json", stream=buffer)
    yield buffer
    structlog.reset_defaults()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def _clean_environment(monkeypatch):
    """No SYNC_DAEMON_* variable, credentials or state directory of the machine leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("SYNC_DAEMON_") or name in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(name)


# -- a real PostgreSQL server -------------------------------------------------------------------

POSTGRES_PASSWORD = "ledger-test-password"


@pytest.fixture(scope="session")
def postgres_server():
    """One throw-away PostgreSQL cluster for the whole run (Debian's server binaries, a free port).

    Without the binaries the PostgreSQL tests are skipped, saying so, unless
    ``SYNC_DAEMON_REQUIRE_POSTGRES=1`` (set by ``.ci/run``, which installs them) makes that a failure.
    """
    import shutil
    import tempfile

    from tests.postgres_server import server_binaries, start_server

    if server_binaries() is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql; .ci/run does)"
        if os.environ.get("SYNC_DAEMON_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # Under /tmp, not pytest's own 0700 temp dir: as root the cluster runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="sync-daemon-pg-"))
    server = start_server(base)
    yield server
    try:
        server.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    """The URL (no password) of a database owned by an ordinary role; its password is ``POSTGRES_PASSWORD``."""
    return postgres_server.create_database("sync_daemon", POSTGRES_PASSWORD)


# -- throw-away TLS (the package holds no key) ---------------------------------------------------


@pytest.fixture(scope="session")
def loopback_tls(tmp_path_factory):
    """An authority made for this run (trustme) and its certificate for 127.0.0.1: ``tests/loopback_tls.py``."""
    from tests.loopback_tls import LoopbackTLS

    return LoopbackTLS.create(tmp_path_factory.mktemp("loopback-tls"))
