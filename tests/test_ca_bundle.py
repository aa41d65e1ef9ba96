"""ca_bundle: a private or self-signed authority trusted for one connection — checked by check-config,
used by every platform's session, and end to end against a platform simulator served over https."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from sync_daemon.app import build_engine
from sync_daemon.cli import main
from sync_daemon.config import Settings
from sync_daemon.ledger import SqliteLedger
from sync_daemon.platforms import REGISTRY, ShopContext
from sync_daemon.setup.checks import check_all, check_one
from sync_daemon.setup.offline import check_offline
from sync_daemon.simulators import GoTrackSimulator
from sync_daemon.simulators.orders import make_order

pytestmark = pytest.mark.usefixtures("_clean_environment")

SHOP = """
[woocommerce]
url = "https://shop.example.net"
consumer_key = "ck_0123456789abcdef0123456789abcdef01234567"
consumer_secret = "cs_0123456789abcdef0123456789abcdef01234567"
"""
GOTRACK = """
[gotrack]
enabled = true
api_key = "fbc_123456789012"
api_secret = "gotrack-secret-value"
"""
# What each platform needs besides ca_bundle to build its clients.
SECTIONS = {
    "gotrack": {"api_key": "fbc_1", "api_secret": "s"},
    "orderrepo": {"api_key": "k", "events": {"created": "evt"}},
    "shopback": {"offer_id": "1234", "security_token": "a" * 32},
    "tracktor": {"uuid": "u", "api_key": "k"},
}


@pytest.fixture
def untrusting(monkeypatch):
    # The system's authorities do not know the simulators' certificate: only a ca_bundle can.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def other_authority(tmp_path_factory):
    """The certificate of an authority that did not sign the simulators' certificate."""
    directory = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(directory / "key.pem"),
         "-out", str(directory / "ca.pem"), "-days", "2", "-subj", "/CN=Some Other CA"],
        check=True, capture_output=True,
    )
    return str(directory / "ca.pem")


@pytest.fixture
def gotrack_over_tls(loopback_tls):
    simulator = GoTrackSimulator()
    simulator.tls = loopback_tls.server_context()  # a certificate of this run's throw-away authority
    with simulator:
        yield simulator


def check_config(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return CliRunner().invoke(main, ["check-config", "--config", str(path)])


# -- check-config --------------------------------------------------------------------------------


def test_check_config_lists_every_unusable_bundle_at_once(tmp_path):
    not_pem = tmp_path / "shop-ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a binary DER")
    damaged = tmp_path / "damaged.pem"
    damaged.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    text = (SHOP + f'ca_bundle = "{not_pem}"\n' + GOTRACK + f'ca_bundle = "{tmp_path / "missing.pem"}"\n'
            + f'[orderrepo]\nca_bundle = "{damaged}"\n[tracktor]\nca_bundle = "{tmp_path}"\n'
            + '[shopback]\nca_bundle = "relative/ca.pem"\n')
    result = check_config(tmp_path, text)
    assert result.exit_code == 2, result.output
    for line in (
        f"woocommerce.ca_bundle: {not_pem} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- line; "
        "a binary DER .cer/.crt converts with: openssl x509 -inform der -in FILE -out FILE.pem)",
        f"gotrack.ca_bundle: {tmp_path / 'missing.pem'} does not exist",
        f"orderrepo.ca_bundle: {damaged} holds a damaged certificate",
        f"tracktor.ca_bundle: {tmp_path} is a directory: give the PEM file of the certificate authority",
        "shopback.ca_bundle: relative/ca.pem is not an absolute path (e.g. /etc/sync-daemon/shop-ca.pem)",
    ):
        assert line in result.output, result.output


def test_a_private_key_is_not_a_ca_bundle(tmp_path, loopback_tls):
    key_file = loopback_tls.key_and_certificates
    result = check_config(tmp_path, SHOP + f'ca_bundle = "{key_file}"\n' + GOTRACK)
    assert result.exit_code == 2
    assert f"{key_file} holds a private key: give only the certificate(s)" in result.output


def test_a_bundle_with_verify_tls_off_is_a_contradiction(tmp_path, loopback_tls):
    bundle = loopback_tls.ca_certificate
    result = check_config(tmp_path, SHOP + f'ca_bundle = "{bundle}"\nverify_tls = false\n' + GOTRACK)
    assert result.exit_code == 2 and "woocommerce.verify_tls: false turns certificate checks off" in result.output


def test_a_good_bundle_passes_check_config(tmp_path, loopback_tls):
    bundle = loopback_tls.ca_certificate
    result = check_config(tmp_path, SHOP + f'ca_bundle = "{bundle}"\n' + GOTRACK + f'ca_bundle = "{bundle}"\n')
    assert result.exit_code == 0, result.output


def test_test_connection_fails_only_the_line_whose_bundle_is_unusable(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SHOP + GOTRACK + f'ca_bundle = "{tmp_path / "missing.pem"}"\n')
    report = check_offline(path)
    settings, invalid = report.settings, report.by_section()
    assert invalid == {"gotrack": [f"gotrack.ca_bundle: {tmp_path / 'missing.pem'} does not exist"]}
    (gotrack,) = check_all(settings, ["gotrack"], invalid=invalid)
    assert not gotrack.ok and "does not exist" in gotrack.message and "nothing was sent" in gotrack.hint


# -- every platform's session ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_platform_sends_through_its_own_bundle(name, loopback_tls):
    bundle = loopback_tls.ca_certificate
    section = REGISTRY[name].Settings.model_validate({"enabled": True, "ca_bundle": bundle, **SECTIONS[name]})
    platform = REGISTRY[name](section, ShopContext(url="https://shop.example.com", origin="https://shop.example.com"))
    try:
        lanes = [*platform.destinations(), *platform.status_sources()]
        sessions = [getattr(lane, "session", None) or lane.client.session for lane in lanes]
        assert sessions, name
        assert all(session.verify == bundle for session in sessions), name
    finally:
        platform.close()


# -- end to end: a platform behind a private authority -------------------------------------------


def test_gotrack_behind_a_private_authority_is_checked_and_delivered_to(tmp_path, woocommerce, gotrack_over_tls,
                                                                       untrusting, other_authority, loopback_tls):
    gotrack = gotrack_over_tls
    created = datetime.now(UTC) - timedelta(hours=1)
    woocommerce.add_orders([make_order(7001, created=created)])
    data = {
        "state_dir": str(tmp_path / "state"), "writeback": {"enabled": False},
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "gotrack": {"enabled": True, "endpoint": gotrack.endpoint, "api_key": gotrack.api_key,
                    "api_secret": gotrack.api_secret, "timeout_seconds": 2},
    }
    untrusted = check_one(Settings.model_validate(data), "gotrack")
    assert not untrusted.ok and "self-signed" in untrusted.message
    assert "set gotrack.ca_bundle" in untrusted.hint and "verify_tls" not in untrusted.hint  # a shop-only switch

    data["gotrack"]["ca_bundle"] = other_authority  # the wrong authority: the diagnosis names the bundle
    wrong = check_one(Settings.model_validate(data), "gotrack")
    assert not wrong.ok
    assert f"is not signed by an authority in gotrack.ca_bundle ({other_authority})" in wrong.message
    assert f"into {other_authority}" in wrong.hint

    data["gotrack"]["ca_bundle"] = loopback_tls.ca_certificate
    settings = Settings.model_validate(data)
    trusted = check_one(settings, "gotrack")
    assert trusted.ok, trusted.message
    assert trusted.message.endswith(f"; certificate trusted through ca_bundle {loopback_tls.ca_certificate}")

    ledger = SqliteLedger.open(settings.resolved_state_dir())
    engine = build_engine(settings, ledger, threading.Event())
    try:
        summary = engine.sync_pass()
    finally:
        engine.close()
        ledger.close()
    assert summary.delivered == 1, summary.as_dict()
    assert [order["external_order_id"] for order in gotrack.orders()] == ["7001"]
