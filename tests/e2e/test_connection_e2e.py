"""test-connection and connect through the real CLI, against the simulators (asserted through their
HTTP admin interfaces), and a paused daemon resuming after `connect` + SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import requests

from sync_daemon.simulators.orders import make_order

from .harness import ROOT, Daemon, cli_env, run_cli, wait_until, write_config


def admin(simulator, path: str):
    response = requests.get(f"{simulator.url}/__admin__/{path}", timeout=5)
    response.raise_for_status()
    return response.json()


def test_all_connections_pass_and_nothing_is_created(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders([make_order(8100), make_order(8101)])
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    result = run_cli("test-connection", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["woocommerce", "OK"], ["gotrack", "OK"], ["orderrepo", "OK"]]
    assert "can read orders (2 in the shop) and write" in lines[0]

    as_json = run_cli("test-connection", "--json", config=config)
    assert as_json.returncode == 0
    checks = json.loads(as_json.stdout)
    assert [(check["name"], check["ok"]) for check in checks] == [
        ("woocommerce", True), ("gotrack", True), ("orderrepo", True)
    ]
    assert all(set(check) == {"name", "ok", "message", "hint", "details"} for check in checks)

    # Nothing was created or changed anywhere, twice over.
    assert admin(woocommerce, "writes") == {"writes": []}
    assert admin(gotrack, "orders") == {"orders": [], "requests_by_external_id": {}}
    assert admin(orderrepo, "orders") == {"orders": [], "requests_by_id": {}}
    for secret in (woocommerce.consumer_secret, gotrack.api_secret, orderrepo.api_key):
        assert secret not in result.stdout + as_json.stdout + result.stderr


def test_failures_exit_1_with_cause_and_fix_and_bad_values_fail_only_their_line(
    tmp_path, woocommerce, gotrack, orderrepo
):
    orderrepo.update_settings(allowed_origins=["https://elsewhere.example"])
    woocommerce.update_settings(html_mode=True)
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    result = run_cli("test-connection", config=config)
    assert result.returncode == 1
    shop, platform, repo = result.stdout.splitlines()
    assert shop.startswith("woocommerce  FAILED  got an HTML page") and " — " in shop
    assert platform.startswith("gotrack      OK")
    assert "FAILED  the API key works, but the domain https://shop.example.com is not allowed" in repo
    only = run_cli("test-connection", "gotrack", config=config)
    assert only.returncode == 0 and only.stdout.count("\n") == 1

    gotrack_requests_before = gotrack.stats()["total"]
    http_endpoint = write_config(tmp_path / "http.toml", woocommerce, gotrack,
                                 **{"gotrack.endpoint": '"http://app.gotrack.bd/api/v1/orders"'})
    refused = run_cli("test-connection", config=http_endpoint)
    # Only GoTrack's line fails, naming the setting; WooCommerce is still checked beside it.
    assert refused.returncode == 1, refused.stdout + refused.stderr
    shop, platform = refused.stdout.splitlines()
    assert shop.startswith("woocommerce  FAILED  got an HTML page")
    assert platform.startswith("gotrack      FAILED  gotrack.endpoint: must use https://")
    assert "nothing was sent" in platform
    assert admin(gotrack, "orders")["orders"] == []
    assert gotrack.stats()["total"] == gotrack_requests_before

    woocommerce.update_settings(html_mode=False)
    other = write_config(tmp_path / "other.toml", woocommerce, gotrack, **{"delivery.batch_size": "0"})
    elsewhere = run_cli("test-connection", config=other)
    assert elsewhere.returncode == 2, elsewhere.stdout + elsewhere.stderr
    assert [line.split()[1] for line in elsewhere.stdout.splitlines()] == ["OK", "OK"]
    # In check-config's words: one list of offline problems for both commands.
    assert f"invalid configuration in {other}:\n  - delivery.batch_size:" in elsewhere.stderr


def run_cli_with_stdin(*args, config, stdin: str):
    """Like harness.run_cli, with text on stdin (how scripts hand over secrets)."""
    command = [sys.executable, "-m", "sync_daemon", *args, "--config", str(config)]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT, env=cli_env())


def test_a_shop_page_address_is_named_and_connect_offers_the_site_address(tmp_path, woocommerce, gotrack):
    # The shop page's address: WordPress answers ?rest_route= under it too, so it once read as "Plain
    # permalinks"; the simulator's pages carry WordPress's Link header to the real REST API root.
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack,
                          **{"woocommerce.url": f'"{woocommerce.url}/shop"'})
    result = run_cli("test-connection", "woocommerce", config=config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.strip() == (
        f"woocommerce  FAILED  there is no REST API at {woocommerce.url}/shop/wp-json/ (a 404 page): /shop is not "
        f"the WordPress address; the REST API answers at {woocommerce.url}/wp-json/ — set woocommerce.url to "
        f"{woocommerce.url} (values in {config}: url, consumer_key, consumer_secret)"
    )
    assert "Plain" not in result.stdout

    # A script is told the corrected address and nothing is saved; with it, the connection is saved.
    before = config.read_text()
    scripted = run_cli_with_stdin("connect", "woocommerce", "--endpoint", f"{woocommerce.url}/shop", config=config,
                                  stdin="\n\n")
    assert scripted.returncode == 1, scripted.stdout + scripted.stderr
    assert f"to use it: sync-daemon connect woocommerce --endpoint {woocommerce.url}" in scripted.stderr
    assert config.read_text() == before
    saved = run_cli_with_stdin("connect", "woocommerce", "--endpoint", woocommerce.url, config=config, stdin="\n\n")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert run_cli("test-connection", "woocommerce", config=config).returncode == 0
    assert admin(woocommerce, "writes") == {"writes": []}


def gotrack_status(config):
    result = run_cli("status", "--json", config=config)
    return json.loads(result.stdout)["destinations"].get("gotrack", {}) if result.returncode == 0 else {}




@pytest.mark.parametrize(
    "auth_pause_seconds",
    [2, 3600],
)
def test_rotated_key_pauses_then_connect_and_sighup_resume_delivery(
    tmp_path, woocommerce, gotrack, auth_pause_seconds
):
    woocommerce.add_orders([make_order(8200 + index) for index in range(3)])
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack,
                          **{"delivery.auth_pause_seconds": str(auth_pause_seconds)})
    config.write_text("# my daemon — notes I want to keep\n" + config.read_text().replace(
        "[gotrack]", "# GoTrack credentials, pasted from Settings → API\n[gotrack]"))
    delivered = lambda: {order["external_order_id"] for order in gotrack.orders()}  # noqa: E731
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: len(delivered()) == 3, timeout=20)
        new = gotrack.rotate_credentials()  # "Regenerate Key & Secret" in the dashboard
        woocommerce.add_orders([make_order(8300), make_order(8301)])
        # Told by the daemon's log, which keeps it: a 2 s pause may be over before status reads it.
        assert wait_until(lambda: any(line.get("event") == "destination paused" and line.get("kind") == "auth"
                                      for line in daemon.log_lines()), timeout=60)
        if auth_pause_seconds > 60:
            assert gotrack_status(config).get("pause_kind") == "auth"

        checked = run_cli("test-connection", "gotrack", config=config)
        assert checked.returncode == 1
        assert "FAILED  GoTrack rejected the API key/secret (401" in checked.stdout
        assert "accepted deliveries from this daemon before (last success at" in checked.stdout
        assert "probably regenerated" in checked.stdout and "sync-daemon connect gotrack" in checked.stdout

        saved = run_cli_with_stdin("connect", "gotrack", "--key", new["api_key"], config=config,
                                   stdin=f"\n{new['api_secret']}\n")
        assert saved.returncode == 0, saved.stdout + saved.stderr
        assert "gotrack      OK" in saved.stdout and "saved [gotrack]" in saved.stdout
        text = config.read_text()
        assert text.startswith("# my daemon — notes I want to keep\n")
        assert "# GoTrack credentials, pasted from Settings → API\n[gotrack]" in text
        assert stat.S_IMODE(os.stat(config).st_mode) == 0o600

        # Until it reloads, the daemon keeps the old credentials: its retries after the pause fail again.
        time.sleep(3)
        assert len(delivered()) == 3
        daemon.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: len(delivered()) == 5, timeout=60)
    finally:
        assert daemon.stop() == 0
    events = [line.get("event") for line in daemon.log_lines()]
    assert "configuration reloaded" in events
    assert "destination settings changed; any credentials pause is lifted" in events
    assert gotrack_status(config).get("pause_kind") is None
    log = daemon.log_path.read_text()
    for secret in (new["api_secret"], woocommerce.consumer_secret):
        assert secret not in log + checked.stdout + saved.stdout + saved.stderr
