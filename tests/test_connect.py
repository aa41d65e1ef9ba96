"""sync-daemon connect: trim, check, test, then save atomically into a commented config (0600)."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest
from click.testing import CliRunner

from sync_daemon.cli import main
from sync_daemon.config import load_settings
from sync_daemon.platforms.base import CheckResult
from sync_daemon.setup import connect as connect_module
from sync_daemon.setup.connect import Asker, atomic_write, run_connect
from sync_daemon.simulators.orderrepo import OrderRepoSimulator

pytestmark = pytest.mark.usefixtures("_clean_environment")


@pytest.fixture
def wc(woocommerce):
    """The shared ``woocommerce`` simulator (conftest.py), under this module's short name."""
    return woocommerce


@pytest.fixture
def gt(gotrack):
    """The shared ``gotrack`` simulator (conftest.py), under this module's short name."""
    return gotrack


COMMENTED = """\
# sync-daemon for my shop — hand-written, please keep these notes!
poll_interval_seconds = 30  # every half minute
state_dir = "{state}"

[woocommerce]
# the shop itself
url = "{shop}"  # no trailing slash
consumer_key = "{ck}"
consumer_secret = "{cs}"
statuses = ["processing", "on-hold"]  # what we ship

# ---- platforms ----
[gotrack]
# GoTrack.bd, from Settings → API
enabled = false  # switched on by connect
endpoint = "{endpoint}"  # copied from the dashboard
api_key = "fbc_old_key"  # the old key
api_secret = "old-secret"  # rotated in November
timeout_seconds = 5

[delivery]
# slow retries on this host
retry_schedule_seconds = [10, 600]  # seconds
"""


def write_commented(tmp_path, wc, gt):
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED.format(state=tmp_path / "state", shop=wc.url, ck=wc.consumer_key,
                                     cs=wc.consumer_secret, endpoint=gt.endpoint))
    path.chmod(0o644)
    return path


def comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def invoke(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_connect_round_trips_a_commented_config_and_makes_it_0600(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    before = path.read_text()
    # Scripted: the endpoint line is empty (keep), the key is an option, the secret comes on stdin with a stray space.
    result = invoke("connect", "gotrack", "--config", str(path), "--key", f" {gt.api_key}\n",
                    input=f"\n{gt.api_secret} \n")
    assert result.exit_code == 0, result.output
    assert "gotrack      OK  API key and secret accepted" in result.stdout
    assert "removed a space at the start and a newline at the end" in result.stderr
    assert "removed a space at the end" in result.stderr
    assert f"saved [gotrack] (api_key, api_secret, enabled) to {path} (mode 0600)" in result.stdout
    assert "systemctl reload sync-daemon" in result.stdout
    after = path.read_text()
    assert comments(after) == comments(before)  # not one comment lost, all in their place
    assert mode(path) == 0o600
    old, new = tomllib.loads(before), tomllib.loads(after)
    assert new["gotrack"] == {**old["gotrack"], "enabled": True, "api_key": gt.api_key, "api_secret": gt.api_secret}
    assert {k: v for k, v in new.items() if k != "gotrack"} == {k: v for k, v in old.items() if k != "gotrack"}
    assert sorted(os.listdir(tmp_path)) == ["config.toml"]  # no temporary file left behind
    settings = load_settings(path)
    assert settings.gotrack.enabled and settings.gotrack.api_secret.get_secret_value() == gt.api_secret
    assert gt.orders() == []
    assert gt.api_secret not in result.output


def test_a_failing_test_saves_nothing(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    before = path.read_bytes()
    result = invoke("connect", "gotrack", "--config", str(path), "--key", gt.api_key, input="\nwrong-secret\n")
    assert result.exit_code == 1
    assert "FAILED  GoTrack rejected the API key/secret (401" in result.stdout
    assert "not saved" in result.stderr
    assert path.read_bytes() == before and mode(path) == 0o644


@pytest.mark.parametrize(
    ("secret", "expected"),
    [("••••••••••", "bullet characters"), ("your_api_secret", "example placeholder"),
     ("abc\ndef", "in the middle")],
)
def test_values_that_cannot_work_are_refused_before_any_request(tmp_path, wc, gt, secret, expected):
    path = write_commented(tmp_path, wc, gt)
    before = path.read_bytes()
    result = invoke("connect", "gotrack", "--config", str(path), "--key", gt.api_key, "--secret", secret)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "not saved" in result.stderr
    assert path.read_bytes() == before
    assert gt.stats()["total"] == 0


def test_key_without_fbc_prefix_is_refused(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    result = invoke("connect", "gotrack", "--config", str(path), "--key", "abc123", "--secret", gt.api_secret)
    assert result.exit_code == 1 and "does not start with fbc_" in result.stdout
    assert gt.stats()["total"] == 0


def test_http_endpoint_is_refused(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    result = invoke("connect", "gotrack", "--config", str(path), "--endpoint", "http://app.gotrack.bd/api/v1/orders",
                    "--key", gt.api_key, "--secret", gt.api_secret)
    assert result.exit_code == 2 and "gotrack.endpoint: must use https://" in result.stderr


def test_no_test_saves_anyway_with_a_warning(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    result = invoke("connect", "gotrack", "--config", str(path), "--no-test", "--key", gt.api_key,
                    input="\nnot-the-secret\n")
    assert result.exit_code == 0, result.output
    assert "saved WITHOUT a connection test" in result.stderr
    assert tomllib.loads(path.read_text())["gotrack"]["api_secret"] == "not-the-secret"
    assert mode(path) == 0o600
    assert gt.stats()["total"] == 0


def test_credentials_dir_gets_the_secret_instead_of_the_toml(tmp_path, wc, gt, monkeypatch):
    path = write_commented(tmp_path, wc, gt)
    credentials = tmp_path / "credentials"
    result = invoke("connect", "gotrack", "--config", str(path), "--credentials-dir", str(credentials),
                    "--key", gt.api_key, input=f"\n{gt.api_secret}\n")
    assert result.exit_code == 0, result.output
    secret_file = credentials / "gotrack.api_secret"
    assert secret_file.read_text() == gt.api_secret and mode(secret_file) == 0o600
    assert "api_secret" not in tomllib.loads(path.read_text())["gotrack"]
    assert gt.api_secret not in path.read_text()
    assert f"LoadCredential=gotrack.api_secret:{secret_file}" in result.stdout
    # systemd hands credential files over at start: a reload would keep the old secret.
    assert "systemctl restart sync-daemon (a reload keeps the old secret)" in result.stdout
    assert "picks this up on reload" not in result.stdout
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert load_settings(path).gotrack.api_secret.get_secret_value() == gt.api_secret
    checked = invoke("test-connection", "gotrack", "--config", str(path))
    assert checked.exit_code == 0, checked.output


def test_connect_creates_a_missing_config_for_the_shop(tmp_path, wc):
    path = tmp_path / "new.toml"
    result = invoke("connect", "woocommerce", "--config", str(path),
                    input=f"{wc.url}\n{wc.consumer_key}\n{wc.consumer_secret}\n")
    assert result.exit_code == 0, result.output
    assert "woocommerce  OK  REST API answers; the key can read orders" in result.stdout
    assert mode(path) == 0o600 and path.read_text().startswith("# sync-daemon configuration")
    assert tomllib.loads(path.read_text())["woocommerce"] == {
        "url": wc.url, "consumer_key": wc.consumer_key, "consumer_secret": wc.consumer_secret
    }
    assert wc.writes() == []


def test_interactive_prompts_hide_the_secret(tmp_path, wc, gt):
    path = write_commented(tmp_path, wc, gt)
    runner = CliRunner()
    with runner.isolation(input=f"\n{gt.api_key}\n{gt.api_secret}\n") as (stdout, _stderr, *_):
        code = run_connect("gotrack", config_file=str(path), ask=Asker(interactive=True))
        shown = stdout.getvalue().decode()
    assert code == 0
    assert "GoTrack Endpoint URL [" in shown and "GoTrack API secret (input hidden" in shown
    assert gt.api_key in shown and gt.api_secret not in shown  # the key echoes, the secret does not


def test_orderrepo_origin_option(tmp_path, wc, gt):
    with OrderRepoSimulator(allowed_origins=("https://shop.example.com",)) as orderrepo:
        path = write_commented(tmp_path, wc, gt)
        refused = invoke("connect", "orderrepo", "--config", str(path), "--endpoint", orderrepo.url,
                         "--secret", orderrepo.api_key, "--origin", "https://other.example")
        assert refused.exit_code == 1 and "is not allowed in the OrderRepo project" in refused.stdout
        saved = invoke("connect", "orderrepo", "--config", str(path), "--endpoint", orderrepo.url,
                       "--secret", orderrepo.api_key, "--origin", "https://shop.example.com")
        assert saved.exit_code == 0, saved.output
        assert tomllib.loads(path.read_text())["orderrepo"]["origin"] == "https://shop.example.com"
        assert orderrepo.orders() == [] and orderrepo.requests_by_id() == {}
    wrong = invoke("connect", "gotrack", "--config", str(path), "--origin", "https://x.example", "--no-test")
    assert wrong.exit_code == 2 and "--origin is not used by gotrack" in wrong.stderr


def test_a_config_changed_during_the_test_is_not_overwritten(tmp_path, wc, gt, monkeypatch):
    path = write_commented(tmp_path, wc, gt)

    def edit_meanwhile(settings, name, context):
        with path.open("a") as handle:
            handle.write("# edited by hand meanwhile\n")
        return CheckResult(name, True, "fine")

    monkeypatch.setattr(connect_module, "check_one", edit_meanwhile)
    result = invoke("connect", "gotrack", "--config", str(path), "--key", gt.api_key, "--secret", gt.api_secret)
    assert result.exit_code == 2 and "changed while the connection was tested" in result.stderr
    assert path.read_text().endswith("# edited by hand meanwhile\n")


def test_environment_override_is_pointed_out(tmp_path, wc, gt, monkeypatch):
    path = write_commented(tmp_path, wc, gt)
    monkeypatch.setenv("SYNC_DAEMON_GOTRACK__API_SECRET", "stale-from-env")
    result = invoke("connect", "gotrack", "--config", str(path), "--key", gt.api_key, "--secret", gt.api_secret)
    assert result.exit_code == 0, result.output  # the test uses what was typed
    assert "gotrack.api_secret is also set from $SYNC_DAEMON_GOTRACK__API_SECRET" in result.stderr


def test_atomic_write_follows_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("a = 1\n")
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    atomic_write(link, "a = 2\n")
    assert link.is_symlink() and real.read_text() == "a = 2\n" and mode(real) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a file to another user")
def test_root_keeps_the_service_users_ownership(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("a = 1\n")
    os.chown(path, 4242, 4343)
    atomic_write(path, "a = 2\n")
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4242, 4343, 0o600)


# -- the corrected shop address is offered ------------------------------------------------------------


def test_a_shop_page_address_is_corrected_on_yes_and_saved(tmp_path, wc):
    path = tmp_path / "config.toml"
    asked = []

    def confirm(question):
        asked.append(question)
        return True

    runner = CliRunner()
    with runner.isolation() as (stdout, _stderr, *_):
        code = run_connect("woocommerce", config_file=str(path), confirm=confirm,
                           given={"endpoint": wc.url + "/shop", "key": wc.consumer_key, "secret": wc.consumer_secret})
        shown = stdout.getvalue().decode()
    assert code == 0, shown
    assert asked == [f"use {wc.url} as the WooCommerce shop URL?"]
    assert "/shop is not the WordPress address" in shown  # the first test said why
    assert "woocommerce  OK  REST API answers" in shown
    assert tomllib.loads(path.read_text())["woocommerce"]["url"] == wc.url
    assert wc.writes() == []


def test_a_wp_admin_address_is_offered_before_any_request(tmp_path, wc):
    path = tmp_path / "config.toml"
    code = run_connect("woocommerce", config_file=str(path), confirm=lambda question: True, echo=lambda text: None,
                       given={"endpoint": wc.url + "/wp-admin/", "key": wc.consumer_key, "secret": wc.consumer_secret})
    assert code == 0
    assert tomllib.loads(path.read_text())["woocommerce"]["url"] == wc.url


def test_a_script_gets_the_corrected_address_printed_and_nothing_saved(tmp_path, wc):
    path = tmp_path / "config.toml"
    result = invoke("connect", "woocommerce", "--config", str(path), "--endpoint", wc.url + "/shop",
                    input=f"{wc.consumer_key}\n{wc.consumer_secret}\n")
    assert result.exit_code == 1, result.output
    assert f"set woocommerce.url to {wc.url}" in result.stdout
    assert f"to use it: sync-daemon connect woocommerce --endpoint {wc.url}" in result.stderr
    assert "not saved" in result.stderr and not path.exists()


def test_no_to_the_offer_saves_nothing(tmp_path, wc):
    path = tmp_path / "config.toml"
    runner = CliRunner()
    with runner.isolation(input="n\n") as (stdout, stderr, *_):
        code = run_connect("woocommerce", config_file=str(path), ask=Asker(interactive=True),
                           given={"endpoint": wc.url + "/shop", "key": wc.consumer_key, "secret": wc.consumer_secret})
        shown = stdout.getvalue().decode()
    assert code == 1
    assert f"use {wc.url} as the WooCommerce shop URL? [Y/n]" in shown
    assert not path.exists()


def test_credentials_dir_says_what_went_where_in_pasteable_lines(tmp_path, wc, gt, monkeypatch):
    path = write_commented(tmp_path, wc, gt)
    monkeypatch.chdir(tmp_path)  # a relative folder: the unit needs absolute paths
    result = invoke("connect", "gotrack", "--config", str(path), "--credentials-dir", "creds",
                    "--key", gt.api_key, input=f"\n{gt.api_secret}\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    folder = tmp_path / "creds"
    assert [line for line in lines if "LoadCredential=" in line] == [
        f"LoadCredential=gotrack.api_secret:{folder / 'gotrack.api_secret'}",
    ]
    saved = next(line for line in lines if line.startswith("saved [gotrack]"))
    assert saved == f"saved [gotrack] (api_key, enabled) to {path} (mode 0600)"  # the secret went elsewhere
    assert f"wrote gotrack.api_secret to {folder / 'gotrack.api_secret'}" in result.stdout


def test_a_credential_file_the_unit_may_load_is_named_when_connect_saves_into_the_toml(tmp_path, wc, gt, monkeypatch):
    path = write_commented(tmp_path, wc, gt)
    folder = tmp_path / "etc-credentials"  # stands for /etc/sync-daemon/credentials
    folder.mkdir()
    (folder / "gotrack.api_secret").write_text("the-old-secret\n")
    monkeypatch.setattr("sync_daemon.setup.connect.DEFAULT_CREDENTIALS_DIRECTORY", folder)
    result = invoke("connect", "gotrack", "--config", str(path), "--key", gt.api_key, input=f"\n{gt.api_secret}\n")
    assert result.exit_code == 0, result.output
    assert f"warning: {folder / 'gotrack.api_secret'} exists: if the unit loads it" in result.stderr
    assert f"--credentials-dir {folder}" in result.stderr
