"""WooCommerce over https, as real shops run it: Basic auth (OAuth is for plain http only) and
certificate checks, against the simulator in its TLS mode (a self-signed loopback certificate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from sync_daemon.config import Settings
from sync_daemon.core.errors import AuthError
from sync_daemon.setup.checks import check_one
from sync_daemon.simulators.base import TLS_CERTIFICATE
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import WooCommerceSource

CREATED = datetime.now(UTC) - timedelta(days=1)


@pytest.fixture
def shop():
    with WooCommerceSimulator(tls=True) as simulator:
        simulator.add_orders([make_order(1, created=CREATED), make_order(2, created=CREATED)])
        yield simulator


@pytest.fixture
def trusted(monkeypatch):
    # What a merchant's machine does for a real certificate: the system trusts its issuer.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", TLS_CERTIFICATE)


def source(shop, secret=None):
    return WooCommerceSource(WooCommerceSettings(
        url=shop.url, consumer_key=shop.consumer_key, consumer_secret=secret or shop.consumer_secret))


def test_the_daemon_reads_over_https_with_basic_auth(shop, trusted):
    assert shop.url.startswith("https://")
    pages = list(source(shop).iter_pages(CREATED - timedelta(hours=1)))
    assert sorted(order["id"] for page in pages for order in page) == [1, 2]
    with pytest.raises(AuthError, match="Consumer secret is invalid"):
        list(source(shop, secret="cs_" + "0" * 40).iter_pages(CREATED))


def test_over_https_oauth_is_not_looked_at_and_the_query_pair_works(shop, trusted):
    orders = f"{shop.url}/wp-json/wc/v3/orders"
    oauth = {"oauth_consumer_key": shop.consumer_key, "oauth_signature": "x", "oauth_signature_method": "HMAC-SHA1",
             "oauth_nonce": "n", "oauth_timestamp": "1"}
    assert requests.get(orders, params=oauth, timeout=5).status_code == 401  # anonymous, as on real https
    pair = {"consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret}
    assert requests.get(orders, params=pair, timeout=5).status_code == 200


def test_an_untrusted_certificate_is_named_by_test_connection(shop, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    settings = Settings.model_validate({"woocommerce": {
        "url": shop.url, "consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret}})
    result = check_one(settings, "woocommerce")
    assert not result.ok
    assert "self-signed" in result.message, result.message
    assert shop.stats()["total"] == 0  # the handshake failed: no request reached the shop
