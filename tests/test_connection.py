"""test-connection: every diagnosis, produced against the simulators (or a tiny stand-in server), and
the proof that no check ever creates or changes anything on any platform."""

from __future__ import annotations

import copy
import json
import socket
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from pydantic import SecretStr

from sync_daemon.app import build_engine
from sync_daemon.config import Settings, load_settings, settings_model
from sync_daemon.core import http
from sync_daemon.core.diagnose import looks_masked, trim, value_findings
from sync_daemon.core.errors import ConfigurationError
from sync_daemon.core.order import Order
from sync_daemon.core.settings import DestinationSettings
from sync_daemon.ledger import IngestItem, Mapped, Outcome, SqliteLedger
from sync_daemon.platforms import REGISTRY
from sync_daemon.platforms.base import (
    CheckResult,
    ConnectionSpec,
    Destination,
    Field,
    MappingResult,
    PlatformBase,
    PushResult,
)
from sync_daemon.setup.checks import check_all, format_line, known_names
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator

ORIGIN = "https://shop.example.com"

pytestmark = pytest.mark.usefixtures("_clean_environment")


@pytest.fixture
def wc(woocommerce):
    """The shared ``woocommerce`` simulator (conftest.py), under this module's short name."""
    return woocommerce


@pytest.fixture
def gt(gotrack):
    """The shared ``gotrack`` simulator (conftest.py), under this module's short name."""
    return gotrack


@pytest.fixture
def orp(orderrepo):
    """The shared ``orderrepo`` simulator (conftest.py), under this module's short name."""
    return orderrepo


def build(tmp_path, wc=None, gt=None, orp=None, **sections) -> Settings:
    """Settings pointing at the simulators; ``sections`` deep-merge over them."""
    data: dict = {"state_dir": str(tmp_path / "state"), "writeback": {"enabled": False}}
    if wc is not None:
        data["woocommerce"] = {
            "url": wc.url,
            "consumer_key": wc.consumer_key,
            "consumer_secret": wc.consumer_secret,
            "timeout_seconds": 2,
        }
    if gt is not None:
        data["gotrack"] = {
            "enabled": True,
            "endpoint": gt.endpoint,
            "api_key": gt.api_key,
            "api_secret": gt.api_secret,
            "timeout_seconds": 2,
        }
    if orp is not None:
        data["orderrepo"] = {
            "enabled": True,
            "base_url": orp.url,
            "api_key": orp.api_key,
            "origin": ORIGIN,
            "timeout_seconds": 2,
        }
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    return Settings(**data)


def one(settings: Settings, name: str) -> CheckResult:
    (result,) = check_all(settings, [name])
    assert result.name == name
    return result


def admin(simulator, path: str):
    """The simulator's HTTP admin interface, as an outside observer would use it."""
    response = requests.get(f"{simulator.url}/__admin__/{path}", timeout=5)
    response.raise_for_status()
    return response.json()


def assert_nothing_created(wc=None, gt=None, orp=None):
    if wc is not None:
        assert admin(wc, "writes") == {"writes": []}
    if gt is not None:
        assert admin(gt, "orders") == {"orders": [], "requests_by_external_id": {}}
    if orp is not None:
        assert admin(orp, "orders") == {"orders": [], "requests_by_id": {}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandIn:
    """A tiny stdlib HTTP(S) server answering ``answer(method, path) -> (status, headers, body)``.

    For what the simulators do not do: plain permalinks, redirects, TLS, odd auth answers.
    """

    def __init__(self, answer, *, certificate=None):
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append((self.command, self.path))
                status, headers, body = answer(self.command, self.path)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    started = []

    def start(answer, **options):
        server = StandIn(answer, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    directory = tmp_path_factory.mktemp("tls")
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def shop_settings(tmp_path, url, **woocommerce):
    values = {"url": url, "consumer_key": "ck_" + "1" * 40, "consumer_secret": "cs_" + "2" * 40,
              "timeout_seconds": 2, **woocommerce}
    return build(tmp_path, woocommerce=values)


# -- everything passes, nothing is created ----------------------------------------------------------


def test_all_pass_side_by_side_and_nothing_is_created_anywhere(tmp_path, wc, gt, orp):
    ids = wc.add_orders([make_order(501), make_order(502)])
    before = [wc.get_order(order_id) for order_id in ids]
    settings = build(tmp_path, wc, gt, orp)
    results = check_all(settings)
    assert [result.name for result in results] == ["woocommerce", "gotrack", "orderrepo"]
    assert all(result.ok for result in results), [format_line(result) for result in results]
    shop, gotrack, orderrepo = results
    assert "can read orders (2 in the shop) and write" in shop.message
    assert shop.details["can_write"] is True
    assert "API key and secret accepted" in gotrack.message and "nothing created" in gotrack.message
    assert f"Origin {ORIGIN} allowed" in orderrepo.message and "nothing created" in orderrepo.message
    assert_nothing_created(wc, gt, orp)
    assert [wc.get_order(order_id) for order_id in ids] == before
    assert wc.order_ids() == ids  # no order 0 appeared
    line = format_line(shop)
    assert line.startswith("woocommerce  OK  ")
    for secret in (wc.consumer_secret, gt.api_secret, orp.api_key):
        assert secret not in repr(results)


def test_checks_run_side_by_side(tmp_path, wc, gt):
    wc.add_fault("timeout", delay=3)
    gt.add_fault("timeout", delay=3)
    settings = build(tmp_path, wc, gt, woocommerce={"timeout_seconds": 1}, gotrack={"timeout_seconds": 1})
    started = time.monotonic()
    results = check_all(settings)
    assert time.monotonic() - started < 1.9  # two 1 s timeouts at once, not one after the other
    assert [result.ok for result in results] == [False, False]
    assert all("no answer within 1 s" in result.message for result in results)


def test_unknown_names_are_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="unknown connection.*nosuch.*known: woocommerce, gotrack"):
        check_all(build(tmp_path), ["nosuch"])


def test_named_platform_that_is_not_enabled_is_checked_and_says_so(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"enabled": False}), "gotrack")
    assert result.ok and "gotrack is not enabled" in result.message


# -- WooCommerce --------------------------------------------------------------------------------------


def test_woocommerce_read_only_key_is_fine_without_write_back(tmp_path, gt):
    with WooCommerceSimulator(permission="read") as shop:
        result = one(build(tmp_path, shop, gt), "woocommerce")
        assert result.ok and "read-only" in result.message and result.details["read_only"]
        assert_nothing_created(shop)


def test_woocommerce_read_only_key_fails_when_status_write_back_needs_it(tmp_path, orp):
    with WooCommerceSimulator(permission="read") as shop:
        settings = build(tmp_path, shop, orp=orp, writeback={"enabled": True})
        result = one(settings, "woocommerce")
        assert not result.ok
        assert "READ-ONLY" in result.message and "write-back is on" in result.message
        assert "Permissions: Read/Write" in result.hint
        assert_nothing_created(shop)


def test_woocommerce_write_only_key(tmp_path):
    with WooCommerceSimulator(permission="write") as shop:
        result = one(build(tmp_path, shop), "woocommerce")
        assert not result.ok and "write-only" in result.message


def test_woocommerce_wrong_key_and_wrong_secret_are_told_apart(tmp_path, wc):
    wrong_key = one(build(tmp_path, wc, woocommerce={"consumer_key": "ck_" + "0" * 40}), "woocommerce")
    assert not wrong_key.ok and "does not know this consumer key" in wrong_key.message
    assert wrong_key.details["auth_rejected"] and "401" in wrong_key.message
    wrong_secret = one(build(tmp_path, wc, woocommerce={"consumer_secret": "cs_" + "0" * 40}), "woocommerce")
    assert not wrong_secret.ok and "secret does not belong to this consumer key" in wrong_secret.message


def test_woocommerce_rest_api_disabled(tmp_path, wc):
    wc.update_settings(rest_disabled=True)
    result = one(build(tmp_path, wc), "woocommerce")
    assert not result.ok and "rest_no_route" in result.message and "REST API is disabled" in result.message


@pytest.mark.parametrize(("switch", "title"), [("html_mode", "Shop – Just another WordPress site"),
                                                ("fault", "Access Denied - Site Firewall")])
def test_woocommerce_html_instead_of_json(tmp_path, wc, switch, title):
    if switch == "fault":
        wc.add_fault("html")  # a security plugin's block page
    else:
        wc.update_settings(html_mode=True)  # a wrong URL / maintenance page
    result = one(build(tmp_path, wc), "woocommerce")
    assert not result.ok and "HTML page" in result.message and "instead of JSON" in result.message
    assert title in result.message and "security plugin" in result.message


def test_woocommerce_plain_permalinks(tmp_path, stand_in):
    def answer(method, path):
        if path.startswith("/?rest_route=/wc/v3"):
            return 200, {}, {"namespace": "wc/v3", "routes": {}}
        return 404, {"Content-Type": "text/html"}, "<html><title>Page not found</title></html>"

    server = stand_in(answer)
    result = one(shop_settings(tmp_path, server.url), "woocommerce")
    assert not result.ok and "permalinks are set to 'Plain'" in result.message
    assert "Settings → Permalinks" in result.hint


def test_woocommerce_wrong_url_without_any_rest_api(tmp_path, stand_in):
    server = stand_in(lambda method, path: (404, {"Content-Type": "text/html"}, "<title>Not Found</title>"))
    result = one(shop_settings(tmp_path, server.url), "woocommerce")
    assert not result.ok and "no WordPress REST API at" in result.message and "Site Address" in result.hint


def test_woocommerce_plain_permalinks_on_the_simulator(tmp_path, wc):
    wc.update_settings(plain_permalinks=True)  # pages announce <…/?rest_route=/>; /wp-json/ is a 404 page
    result = one(build(tmp_path, wc), "woocommerce")
    assert not result.ok and "permalinks are set to 'Plain'" in result.message
    assert "suggested_url" not in result.details  # the address is right


def test_woocommerce_url_with_a_path_is_not_taken_for_plain_permalinks(tmp_path, wc):
    # The shop page's address: ?rest_route= answers under it too (WordPress reads the query on any
    # path), but the 404 page's Link header names the real REST API root.
    result = one(build(tmp_path, wc, woocommerce={"url": wc.url + "/shop"}), "woocommerce")
    assert not result.ok and "Plain" not in result.message + result.hint
    assert result.message == (
        f"there is no REST API at {wc.url}/shop/wp-json/ (a 404 page): /shop is not the WordPress address; "
        f"the REST API answers at {wc.url}/wp-json/"
    )
    assert result.hint == f"set woocommerce.url to {wc.url}"
    assert result.details["suggested_url"] == wc.url
    assert_nothing_created(wc)


def test_woocommerce_url_with_a_path_and_plain_permalinks_names_both(tmp_path, wc):
    wc.update_settings(plain_permalinks=True)
    result = one(build(tmp_path, wc, woocommerce={"url": wc.url + "/shop"}), "woocommerce")
    assert not result.ok and "/shop is not the WordPress address" in result.message
    assert f"WordPress is at {wc.url}" in result.message and "permalinks are set to 'Plain'" in result.message
    assert result.hint.startswith(f"set woocommerce.url to {wc.url}, and") and "'Post name'" in result.hint
    assert result.details["suggested_url"] == wc.url


def test_woocommerce_url_with_a_path_without_a_link_header(tmp_path, stand_in):
    # A plugin strips WordPress's Link header: the REST index at the site's root still tells.
    def answer(method, path):
        if path == "/wp-json/":
            return 200, {}, {"namespaces": ["wp/v2", "wc/v3"], "routes": {}}
        if "rest_route=" in path:  # under any path, as WordPress does
            return 200, {}, {"namespace": "wc/v3", "routes": {}}
        return 404, {"Content-Type": "text/html"}, "<html><title>Page not found</title></html>"

    server = stand_in(answer)
    result = one(shop_settings(tmp_path, server.url + "/shop"), "woocommerce")
    assert not result.ok and "/shop is not the WordPress address" in result.message
    assert "Plain" not in result.message and result.details["suggested_url"] == server.url
    assert ("GET", "/wp-json/") in server.requests


def test_woocommerce_announced_api_that_gives_a_404_page_is_a_rewrite_problem(tmp_path, stand_in):
    site = {}

    def answer(method, path):
        link = f'<{site["url"]}/wp-json/>; rel="https://api.w.org/"'
        return 404, {"Content-Type": "text/html", "Link": link}, "<html><title>Page not found</title></html>"

    server = stand_in(answer)
    site["url"] = server.url
    result = one(shop_settings(tmp_path, server.url), "woocommerce")
    assert not result.ok and "the web server does not hand /wp-json/ to WordPress" in result.message
    assert "try_files" in result.hint and "suggested_url" not in result.details


def test_woocommerce_url_into_wp_json_is_caught_before_any_request(tmp_path, wc):
    result = one(build(tmp_path, wc, woocommerce={"url": wc.url + "/wp-json/wc/v3"}), "woocommerce")
    assert not result.ok and f'woocommerce.url = "{wc.url}"' in result.hint
    assert result.details["suggested_url"] == wc.url  # connect offers it
    assert wc.stats()["total"] == 0


def test_woocommerce_url_into_wp_admin_names_the_site_address(tmp_path, wc):
    result = one(build(tmp_path, wc, woocommerce={"url": wc.url + "/wp-admin"}), "woocommerce")
    assert not result.ok and "points into WordPress (/wp-admin…)" in result.message
    assert result.details["suggested_url"] == wc.url and wc.stats()["total"] == 0


@pytest.mark.parametrize(
    ("pasted", "what"),
    [("/?page_id=12", "is the address of one page (?page_id=…)"),
     ("/wp-admin/admin.php?page=wc-settings&tab=advanced", "points into WordPress (/wp-admin…)"),
     ("/?consumer_key=ck_abc&consumer_secret=cs_pasted_along", "is the address of one page (?consumer_key=…)")],
)
def test_woocommerce_url_with_a_query_is_refused_naming_the_site_address(tmp_path, pasted, what):
    path = tmp_path / "config.toml"
    path.write_text(f'[woocommerce]\nurl = "https://shop.example.com{pasted}"\n[gotrack]\nenabled = true\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert (f"woocommerce.url: {what}, not the WordPress address: set woocommerce.url to https://shop.example.com"
            in str(caught.value))
    assert "cs_pasted_along" not in str(caught.value)  # a query's values are never shown


def test_woocommerce_redirect_from_http_to_https(tmp_path, stand_in):
    holder = {}

    def answer(method, path):
        return 301, {"Location": f"https://127.0.0.1:{holder['port']}{path}"}, ""

    server = stand_in(answer)
    holder["port"] = server.server.server_address[1]
    result = one(shop_settings(tmp_path, server.url), "woocommerce")
    assert not result.ok and "redirects http:// to https://" in result.message
    assert f'woocommerce.url = "https://127.0.0.1:{holder["port"]}"' in result.hint
    assert server.requests == [("GET", server.requests[0][1])]  # one request, the redirect not followed


def test_woocommerce_plain_http_off_this_machine_is_told_to_use_https(tmp_path):
    result = one(shop_settings(tmp_path, "http://shop.invalid"), "woocommerce")
    assert not result.ok and "(DNS)" in result.message
    assert "use https://" in result.hint and "only accepts OAuth" in result.hint


def test_woocommerce_tls_self_signed(tmp_path, stand_in, self_signed):
    server = stand_in(lambda method, path: (200, {}, []), certificate=self_signed)
    result = one(shop_settings(tmp_path, server.url), "woocommerce")
    assert not result.ok and "self-signed" in result.message and "Let's Encrypt" in result.hint
    # Trusting it comes before switching the checks off.
    assert 0 < result.hint.index("woocommerce.ca_bundle") < result.hint.index("verify_tls = false")


def test_woocommerce_tls_on_a_port_without_tls(tmp_path, wc):
    result = one(build(tmp_path, wc, woocommerce={"url": wc.url.replace("http://", "https://")}), "woocommerce")
    assert not result.ok and "does not speak https on that port" in result.message


def test_woocommerce_timeout(tmp_path, wc):
    wc.add_fault("timeout", delay=2)
    result = one(build(tmp_path, wc, woocommerce={"timeout_seconds": 0.3}), "woocommerce")
    assert not result.ok and "no answer within 0.3 s" in result.message


def test_woocommerce_dns_and_refused(tmp_path):
    dns = one(shop_settings(tmp_path, "https://shop.invalid"), "woocommerce")
    assert not dns.ok and "host name shop.invalid was not found (DNS)" in dns.message
    refused = one(shop_settings(tmp_path, f"http://127.0.0.1:{free_port()}"), "woocommerce")
    assert not refused.ok and "refused the connection" in refused.message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (401, {}, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."},
         "drops the Authorization header"),
        (401, {}, {"code": "woocommerce_rest_authentication_error", "message": "Invalid timestamp."},
         "clock is off by more than 15 minutes"),
        (401, {}, {"code": "rest_cannot_access", "message": "DRA: Only authenticated users can access the REST API."},
         "a plugin restricts the REST API"),
        (403, {"Content-Type": "text/html"}, "<html><title>Attention Required! | Cloudflare</title></html>",
         "a firewall or security plugin blocks this server"),
        (503, {"Content-Type": "text/html"}, "<title>Briefly unavailable for scheduled maintenance</title>",
         "HTML page (“Briefly unavailable for scheduled maintenance”)"),
        (200, {}, {"name": "not a list"}, "not WooCommerce's orders list"),
    ],
)
def test_woocommerce_answers_of_real_shops(tmp_path, stand_in, self_signed, status, headers, body, expected):
    server = stand_in(lambda method, path: (status, headers, body), certificate=self_signed)
    result = one(shop_settings(tmp_path, server.url, verify_tls=False), "woocommerce")
    assert not result.ok
    assert expected in result.message + " " + result.hint


# -- values as pasted ----------------------------------------------------------------------------------


def test_stray_space_is_diagnosed_without_sending_anything(tmp_path, wc, gt):
    settings = build(tmp_path, wc, gt, woocommerce={"consumer_secret": wc.consumer_secret + " "},
                     gotrack={"api_key": " " + gt.api_key})
    shop, gotrack = check_all(settings)
    assert not shop.ok and "woocommerce.consumer_secret has a space at the end" in shop.message
    assert not gotrack.ok and "gotrack.api_key has a space at the start" in gotrack.message
    assert wc.stats()["total"] == 0 and gt.stats()["total"] == 0
    assert wc.consumer_secret not in shop.message


def test_newline_in_a_credential_file_names_the_file(tmp_path, gt, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "gotrack.api_secret").write_text("\n" + gt.api_secret + "\n")  # the final newline is fine
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    result = one(build(tmp_path, gt=gt, gotrack={"api_secret": "from-file-is-weaker"}), "gotrack")
    assert not result.ok and "a newline at the start" in result.message
    assert f"in credential file {credentials / 'gotrack.api_secret'}" in result.message
    assert gt.stats()["total"] == 0


def test_secret_pasted_as_bullets(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"api_secret": "••••••••••••"}), "gotrack")
    assert not result.ok and "bullet characters" in result.message and "click Show" in result.hint
    assert gt.stats()["total"] == 0


def test_example_placeholder(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"api_key": "fbc_your_key", "api_secret": "your_api_secret"}),
                 "gotrack")
    assert not result.ok and "example placeholder" in result.message


def test_gotrack_key_without_fbc_prefix(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"api_key": gt.api_key.replace("fbc_", "")}), "gotrack")
    assert not result.ok and "does not start with fbc_" in result.message
    assert gt.stats()["total"] == 0


def test_key_and_secret_swapped(tmp_path, wc, gt):
    swapped = one(build(tmp_path, gt=gt, gotrack={"api_key": gt.api_secret, "api_secret": gt.api_key}), "gotrack")
    assert not swapped.ok and "swapped" in swapped.message
    shop = one(build(tmp_path, wc, woocommerce={"consumer_key": wc.consumer_secret,
                                                "consumer_secret": wc.consumer_key}), "woocommerce")
    assert not shop.ok and "swapped" in shop.message


def test_value_diagnostics_name_invisible_and_odd_characters():
    assert trim("\u00a0abc\u200b\n") == ("abc", ["a non-breaking space at the start", "a zero-width space at the end",
                                                "a newline at the end"])
    assert trim('"abc"') == ("abc", ["the quotes around it"])
    assert looks_masked("••••••") and looks_masked("********") and not looks_masked("fbc_abc*")
    (smart,) = value_findings("x.secret", "abc’def", label="secret")
    assert "right single quotation mark" in smart.problem
    (split,) = value_findings("x.secret", "abc\ndef", label="secret")
    assert "a newline in the middle" in split.problem
    assert value_findings("x.secret", "", label="secret")[0].problem == "is empty"


# -- GoTrack -----------------------------------------------------------------------------------------------


def test_gotrack_wrong_secret_is_401(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"api_secret": "A" * 40}), "gotrack")
    assert not result.ok and "rejected the API key/secret (401" in result.message
    assert result.details["auth_rejected"]
    assert_nothing_created(gt=gt)


def test_gotrack_endpoint_with_a_wrong_path(tmp_path, gt):
    result = one(build(tmp_path, gt=gt, gotrack={"endpoint": gt.url + "/api/v1/order"}), "gotrack")
    assert not result.ok and "wrong path (/api/v1/order)" in result.message
    assert f"{gt.url}/api/v1/orders" in result.hint
    host_only = one(build(tmp_path, gt=gt, gotrack={"endpoint": gt.url}), "gotrack")
    assert not host_only.ok and "only the host" in host_only.message


def test_gotrack_html_page(tmp_path, gt):
    gt.add_fault("html")
    result = one(build(tmp_path, gt=gt), "gotrack")
    assert not result.ok and "HTML page" in result.message and "Access Denied" in result.message


def test_gotrack_http_endpoint_off_this_machine_is_refused_by_the_configuration(tmp_path):
    with pytest.raises(Exception, match="must use https://"):
        build(tmp_path, gotrack={"endpoint": "http://app.gotrack.bd/api/v1/orders"})


def test_credentials_regenerated_after_earlier_success(tmp_path, gt):
    settings = build(tmp_path, gt=gt)
    ledger = SqliteLedger.open(settings.resolved_state_dir())
    ledger.ingest([IngestItem(7, "7", "2026-11-20T10:00:00", "processing", [Mapped("gotrack", {"id": "7"})])],
                  now=1_800_000_000)
    due = ledger.due("gotrack", now=1_800_000_000, limit=10)
    ledger.mark_sending(due, now=1_800_000_000)
    ledger.record([Outcome(7, "gotrack", "delivered", "create", payload_hash=due[0].payload_hash)],
                  now=1_800_000_000)
    success = ledger.destination("gotrack")["last_success_at"]
    ledger.close()
    assert one(settings, "gotrack").ok
    gt.rotate_credentials()
    result = one(settings, "gotrack")
    assert not result.ok and result.details["auth_rejected"]
    assert f"accepted deliveries from this daemon before (last success at {success})" in result.hint
    assert "probably regenerated in GoTrack → Settings → API" in result.hint
    assert "sync-daemon connect gotrack" in result.hint


def test_shop_key_revoked_after_orders_were_read(tmp_path, wc):
    settings = build(tmp_path, wc)
    ledger = SqliteLedger.open(settings.resolved_state_dir())
    ledger.set_cursor(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    ledger.close()
    wc.consumer_key = "ck_" + "5" * 40  # the merchant deleted the key in WooCommerce and made another
    result = one(settings, "woocommerce")
    assert not result.ok and "does not know this consumer key" in result.message
    assert "ledger (" in result.hint and "holds orders read from the shop up to 2026-11-20T10:00:00" in result.hint
    assert "with these settings" not in result.hint  # nothing checked which key read them
    assert "revoked or deleted in WooCommerce → Settings → Advanced → REST API" in result.hint


def test_no_ledger_means_no_history_claim(tmp_path, gt):
    gt.rotate_credentials()
    settings = build(tmp_path, gt=gt, gotrack={"api_key": "fbc_" + "9" * 24})
    result = one(settings, "gotrack")
    assert not result.ok and "worked_before" not in result.details and "last success" not in result.hint
    assert not (tmp_path / "state").exists()  # the check never creates a ledger


# -- OrderRepo -----------------------------------------------------------------------------------------


def test_orderrepo_wrong_or_inactive_key(tmp_path, orp):
    wrong = one(build(tmp_path, orp=orp, orderrepo={"api_key": "x" * 5 + "Q" * 35}), "orderrepo")
    assert not wrong.ok and "rejected the API key (401 Invalid API key)" in wrong.message
    orp.update_settings(api_key_active=False)
    inactive = one(build(tmp_path, orp=orp), "orderrepo")
    assert not inactive.ok and "not active" in inactive.message
    assert_nothing_created(orp=orp)


def test_orderrepo_origin_not_allowed_is_403_after_the_key_passed(tmp_path, orp):
    result = one(build(tmp_path, orp=orp, orderrepo={"origin": "https://other.example"}), "orderrepo")
    assert not result.ok
    assert "the API key works, but the domain https://other.example is not allowed" in result.message
    assert "add https://other.example to the OrderRepo project's domains" in result.hint
    assert_nothing_created(orp=orp)


def test_orderrepo_origin_defaults_to_the_shop(tmp_path, orp):
    settings = build(tmp_path, orp=orp, woocommerce={"url": ORIGIN + "/"}, orderrepo={"origin": ""})
    assert one(settings, "orderrepo").ok


def test_orderrepo_monthly_limit_passes_with_a_warning(tmp_path, orp):
    orp.update_settings(monthly_limit_reached=True)
    result = one(build(tmp_path, orp=orp), "orderrepo")
    assert result.ok and "monthly order limit is reached" in result.message
    assert_nothing_created(orp=orp)


def test_orderrepo_base_url_with_an_api_path(tmp_path, orp):
    result = one(build(tmp_path, orp=orp, orderrepo={"base_url": orp.url + "/api/orders/track"}), "orderrepo")
    assert not result.ok and f'orderrepo.base_url = "{orp.url}"' in result.hint
    assert orp.stats()["total"] == 0


def test_orderrepo_wrong_base_url_path(tmp_path, orp):
    result = one(build(tmp_path, orp=orp, orderrepo={"base_url": orp.url + "/v2"}), "orderrepo")
    assert not result.ok and "there is no OrderRepo API" in result.message


# -- Tracktor, ShopBack and new connections -----------------------------------------------------------


def test_tracktor_status_options_prove_key_and_uuid(tmp_path):
    pytest.importorskip("sync_daemon.platforms.tracktor")
    simulators = pytest.importorskip("sync_daemon.simulators.tracktor")
    with simulators.TracktorSimulator() as tracktor:
        section = {"enabled": True, "base_url": tracktor.base_url, "uuid": tracktor.uuid, "api_key": tracktor.api_key}
        settings = build(tmp_path, tracktor=section)
        assert "tracktor" in [result.name for result in check_all(settings)]
        assert one(settings, "tracktor").ok
        wrong = one(build(tmp_path, tracktor={**section, "api_key": "Z" * 32}), "tracktor")
        assert not wrong.ok


def test_shopback_is_checked_through_its_destination(tmp_path):
    simulators = pytest.importorskip("sync_daemon.simulators.shopback")
    with simulators.ShopBackSimulator(offer_id="5120") as shopback:  # 1234 is the example's placeholder
        section = {"enabled": True, "endpoint": shopback.endpoint, "offer_id": shopback.offer_id,
                   "security_token": shopback.security_token}
        result = one(build(tmp_path, shopback=section), "shopback")
        assert result.ok and "only a real conversion proves" in result.message
        assert shopback.conversions() == []
        wrong = one(build(tmp_path, shopback={**section, "endpoint": shopback.url + "/nowhere"}), "shopback")
        assert not wrong.ok


# -- a platform added by a test alone -------------------------------------------------------------------

ACME_KEY = "acme_" + "7" * 24


class AcmeServer:
    """Acme's API in a few lines: ``GET /api/me`` proves the key, ``POST /api/orders`` stores an order."""

    def __init__(self):
        self.key = ACME_KEY
        self.orders: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                outer.requests.append((self.command, self.path))
                if self.headers.get("X-Api-Key") == outer.key:
                    return True
                self._answer(401, {"error": "invalid API key"})
                return False

            def do_GET(self):
                if self._authorised():
                    self._answer(200, {"account": "acme-shop"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if self._authorised():
                    outer.orders.append(body)
                    self._answer(201, {"id": f"A-{len(outer.orders)}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class AcmeSettings(DestinationSettings):
    """The ``[acme]`` section."""

    endpoint: str = ""
    api_key: SecretStr = SecretStr("")


class AcmeDestination:
    """Acme's one lane: the order's id and total, POSTed as JSON."""

    name = "acme"
    section = "acme"
    supports_update = False

    def __init__(self, settings: AcmeSettings):
        self.settings = settings
        self.concurrency = settings.concurrency
        self.session = http.build_session(headers={"X-Api-Key": settings.api_key.get_secret_value()})

    def map_order(self, order: Order) -> MappingResult:
        return MappingResult({"order_id": order.id, "total": str(order.total)})

    def push(self, payload, *, operation, remote_id) -> PushResult:
        response = http.send(self.session, "POST", f"{self.settings.endpoint}/api/orders", platform="Acme",
                             timeout=self.settings.timeout_seconds, json=payload)
        http.raise_for_status(response, platform="Acme")
        return PushResult(remote_id=http.json_body(response)["id"], detail="created")

    def close(self):
        self.session.close()


class Acme(PlatformBase):
    """A fifth platform, defined here only: nothing in the product names it."""

    name = "acme"
    title = "Acme"
    Settings = AcmeSettings
    connection = ConnectionSpec(
        title="Acme",
        dashboard="Acme → Settings → API",
        fields=(Field("endpoint", "endpoint", "endpoint URL", hidden=False, kind="url"),
                Field("api_key", "secret", "API key")),
    )

    def build_destinations(self) -> list[Destination]:
        return [AcmeDestination(self.settings)]

    def check(self) -> CheckResult:
        try:
            response = requests.get(f"{self.settings.endpoint}/api/me", timeout=self.settings.timeout_seconds,
                                    headers={"X-Api-Key": self.settings.api_key.get_secret_value()})
        except requests.RequestException as error:
            return CheckResult("acme", False, f"Acme did not answer ({type(error).__name__})")
        if response.status_code == 200:
            return CheckResult("acme", True, "API key accepted (nothing sent)")
        return CheckResult("acme", False, f"Acme refused the API key (HTTP {response.status_code})",
                           "copy the key again", {"auth_rejected": response.status_code == 401})


@pytest.fixture
def acme(monkeypatch):
    """Acme in the platform registry for this test only, and its server."""
    monkeypatch.setitem(REGISTRY, "acme", Acme)
    server = AcmeServer()
    yield server
    server.close()


def acme_settings(tmp_path, wc, acme, api_key=ACME_KEY):
    """Settings loaded as the daemon loads them, from a TOML file with an ``[acme]`` section."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"state_dir = {json.dumps(str(tmp_path / 'state'))}\n"
        f"[woocommerce]\nurl = {json.dumps(wc.url)}\nconsumer_key = {json.dumps(wc.consumer_key)}\n"
        f"consumer_secret = {json.dumps(wc.consumer_secret)}\n"
        f"[acme]\nenabled = true\nendpoint = {json.dumps(acme.url)}\napi_key = {json.dumps(api_key)}\n",
        encoding="utf-8",
    )
    return load_settings(path)


def test_a_platform_added_by_a_test_is_checked_and_delivered_to_once(tmp_path, wc, acme):
    (order_id,) = wc.add_orders([make_order(801)])
    settings = acme_settings(tmp_path, wc, acme)
    assert type(settings) is settings_model() and settings.enabled_platforms() == ["acme"]

    # test-connection lists it after the shop and the registry's platforms, and checks it.
    assert known_names(settings) == ["woocommerce", "gotrack", "orderrepo", "shopback", "tracktor", "acme"]
    shop, checked = check_all(settings)
    assert shop.ok and format_line(checked) == "acme         OK  API key accepted (nothing sent)"
    assert acme.orders == [] and acme.requests == [("GET", "/api/me")]

    # Its pre-flight finds what a paste brought along, before any request.
    for pasted, problem in ((ACME_KEY + " ", "acme.api_key has a space at the end"),
                            ("••••••••••", "bullet characters")):
        (refused,) = check_all(acme_settings(tmp_path, wc, acme, api_key=pasted), ["acme"])
        assert not refused.ok and problem in refused.message
    assert acme.requests == [("GET", "/api/me")]

    # The engine delivers the shop's order to it exactly once over two passes.
    ledger = SqliteLedger.open(settings.resolved_state_dir())
    engine = build_engine(settings, ledger, threading.Event())
    try:
        engine.startup()
        first, second = engine.sync_pass(), engine.sync_pass()
        assert (first.delivered, second.delivered) == (1, 0)
        assert acme.orders == [{"order_id": order_id, "total": wc.get_order(order_id)["total"]}]
        delivery = ledger.delivery(order_id, "acme")
        assert delivery["state"] == "delivered" and delivery["remote_id"] == "A-1"
    finally:
        engine.close()
        ledger.close()

    # A key regenerated in Acme's dashboard afterwards: the ledger's memory says so.
    acme.key = "acme_" + "8" * 24
    (rejected,) = check_all(settings, ["acme"])
    assert not rejected.ok and "acme accepted deliveries from this daemon before" in rejected.hint
    assert "regenerated in Acme → Settings → API — paste the new ones: sync-daemon connect acme" in rejected.hint


def test_results_are_json_ready(tmp_path, gt):
    result = one(build(tmp_path, gt=gt), "gotrack")
    assert json.loads(json.dumps(copy.deepcopy(vars(result))))["ok"] is True


def test_woocommerce_url_with_a_path_keeps_https_when_wordpress_calls_itself_http(tmp_path, stand_in, self_signed):
    # WordPress behind a TLS proxy often announces http://; the suggestion keeps the merchant's https.
    site = {}

    def answer(method, path):
        link = f'<http://{site["host"]}/wp-json/>; rel="https://api.w.org/"'
        return 404, {"Content-Type": "text/html", "Link": link}, "<html><title>Page not found</title></html>"

    server = stand_in(answer, certificate=self_signed)
    site["host"] = server.url.removeprefix("https://")
    result = one(shop_settings(tmp_path, server.url + "/shop", ca_bundle=self_signed[0]), "woocommerce")
    assert not result.ok and "/shop is not the WordPress address" in result.message
    assert result.details["suggested_url"] == server.url and result.hint == f"set woocommerce.url to {server.url}"
