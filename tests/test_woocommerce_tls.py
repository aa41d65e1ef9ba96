"""WooCommerce over https, as real shops run it: Basic auth (OAuth is for plain http only) and
certificate checks, against the simulator in its TLS mode (a certificate of a throw-away authority:
tests/loopback_tls.py)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sync_daemon.config import Settings
from sync_daemon.core import http
from sync_daemon.core.errors import AuthError, RetryableError
from sync_daemon.setup.checks import check_one
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import WooCommerceSource

CREATED = datetime.now(UTC) - timedelta(days=1)


@pytest.fixture
def shop(loopback_tls):
    with WooCommerceSimulator(tls=loopback_tls.server_context()) as simulator:
        simulator.add_orders([make_order(1, created=CREATED), make_order(2, created=CREATED)])
        yield simulator


@pytest.fixture
def trusted(monkeypatch, loopback_tls):
    # What a merchant's machine does for a real certificate: the system trusts its issuer.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", loopback_tls.ca_certificate)


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


# -- a private or self-signed authority, trusted through ca_bundle --------------------------------


@pytest.fixture(scope="module")
def other_authority(tmp_path_factory):
    """The certificate of an authority that did not sign the simulators' certificate."""
    directory = tmp_path_factory.mktemp("other-ca")
    key, cert = directory / "key.pem", directory / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=Some Other CA"],
        check=True, capture_output=True,
    )
    return str(cert)


@pytest.fixture
def untrusting(monkeypatch):
    # A machine whose system authorities do not know the simulators' certificate: only a ca_bundle can.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def shop_settings(shop, **woocommerce):
    return Settings.model_validate({"woocommerce": {
        "url": shop.url, "consumer_key": shop.consumer_key, "consumer_secret": shop.consumer_secret, **woocommerce}})


def test_ca_bundle_trusts_the_shop_for_every_request_and_the_check_says_so(shop, untrusting, loopback_tls):
    settings = shop_settings(shop, ca_bundle=loopback_tls.ca_certificate)
    pages = list(WooCommerceSource(settings.woocommerce).iter_pages(CREATED - timedelta(hours=1)))
    assert sorted(order["id"] for page in pages for order in page) == [1, 2]
    WooCommerceSource(settings.woocommerce).add_note(1, "written over https")  # writes too
    assert [note["note"] for note in shop.notes(1)] == ["written over https"]
    result = check_one(settings, "woocommerce")
    assert result.ok, result.message
    assert result.message.endswith(f"; certificate trusted through ca_bundle {loopback_tls.ca_certificate}")
    assert result.details["ca_bundle"] == loopback_tls.ca_certificate


def test_a_ca_bundle_of_another_authority_is_named_in_the_diagnosis(shop, untrusting, other_authority):
    result = check_one(shop_settings(shop, ca_bundle=other_authority), "woocommerce")
    assert not result.ok
    assert f"is not signed by an authority in woocommerce.ca_bundle ({other_authority})" in result.message
    assert "(it is self-signed)" in result.message
    assert f"into {other_authority}" in result.hint and "verify_tls" not in result.hint
    assert shop.stats()["total"] == 0


def test_a_diagnosis_without_a_bundle_offers_it_before_switching_checks_off(shop, untrusting):
    result = check_one(shop_settings(shop), "woocommerce")
    assert not result.ok and "self-signed" in result.message
    assert 0 < result.hint.index("set woocommerce.ca_bundle") < result.hint.index("verify_tls = false")


def test_a_proxy_in_the_environment_does_not_replace_the_bundle(shop, monkeypatch, other_authority, loopback_tls):
    # With a proxy configured requests reads the environment on every request, where
    # $REQUESTS_CA_BUNDLE would otherwise win over the session's own bundle.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_authority)
    session = http.build_session(ca_bundle=loopback_tls.ca_certificate)
    try:
        assert session.trust_env
        assert http.send(session, "GET", f"{shop.url}/wp-json/", platform="test").status_code == 200
        with pytest.raises(requests.exceptions.SSLError):  # the environment's bundle alone does not know it
            requests.get(f"{shop.url}/wp-json/", timeout=5)
    finally:
        session.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_with_checks_switched_off_nothing_is_claimed_trusted(shop, untrusting, loopback_tls):
    # verify_tls = false beside a bundle is refused by check-config; built in code, it checks nothing.
    settings = shop_settings(shop, ca_bundle=loopback_tls.ca_certificate, verify_tls=False)
    assert settings.woocommerce.tls_verify() is False
    assert any("verify_tls: false turns certificate checks off" in line for line in settings.woocommerce.problems())
    result = check_one(settings, "woocommerce")
    assert result.ok and "ca_bundle" not in result.message


# -- one keep-alive connection, Basic auth and _fields over https ----------------------------------


def test_over_https_one_connection_carries_basic_auth_and_trimmed_reads(shop, untrusting, loopback_tls):
    opened = []
    track = shop._track_connection  # noqa: SLF001 - counting the server's accepted connections
    shop._track_connection = lambda connection, *, add: (add and opened.append(connection), track(connection, add=add))
    reader = WooCommerceSource(shop_settings(shop, ca_bundle=loopback_tls.ca_certificate).woocommerce)
    for _ in range(3):
        pages = list(reader.iter_pages(CREATED - timedelta(hours=1)))
        assert sorted(order["id"] for page in pages for order in page) == [1, 2]
    order = reader.get_order(1)
    assert "_links" not in order and "line_items" in order and reader.trims_fields  # trimmed with _fields
    reader.update_order(1, {"status": "completed"})
    assert shop.get_order(1)["status"] == "completed"
    assert len(opened) == 1 and shop.stats()["total"] == 5
    assert "oauth_signature" not in reader.transport.signed_url("GET", "orders", {"per_page": 1})
    reader.close()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_tls_false_still_reaches_a_shop_nothing_trusts(shop, untrusting):
    reader = WooCommerceSource(shop_settings(shop, verify_tls=False).woocommerce)
    assert reader.get_order(2)["id"] == 2
    with pytest.raises(RetryableError, match="TLS error"):
        WooCommerceSource(shop_settings(shop).woocommerce).get_order(2)
