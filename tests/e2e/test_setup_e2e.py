"""Set-up and daily operation as a person sees it through the real CLI (issue 30): where the ledger is
looked for, one set of offline checks, credentials from one folder, the shipped example."""

from __future__ import annotations

import signal
import socket

import requests

from sync_daemon.simulators.orders import make_order

from .harness import ROOT, Daemon, cli_env, run_cli, wait_until, write_config


def without_state_dir(config):
    """The harness's config minus its state_dir line: the default rule applies."""
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("state_dir")))
    return config


def test_commands_find_the_service_ledger_and_never_create_one(tmp_path, woocommerce, gotrack):
    config = without_state_dir(write_config(tmp_path / "config.toml", woocommerce, gotrack))
    service_state = tmp_path / "service-state"
    service_state.mkdir()
    env = cli_env() | {"STATE_DIRECTORY": str(service_state)}
    for command in (["status"], ["status", "--json"], ["prune", "--dry-run"], ["writeback", "--dry-run"]):
        result = run_cli(*command, config=config, env=env)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"there is no ledger at {service_state / 'ledger.sqlite3'}" in result.stderr
        assert "set state_dir" in result.stderr and "Traceback" not in result.stderr
        assert list(service_state.iterdir()) == [], command  # nothing created, not even the directory's files

    woocommerce.add_orders([make_order(8200)])
    daemon = Daemon(config, tmp_path / "daemon.log", env=env)  # the service: $STATE_DIRECTORY, no state_dir
    try:
        assert wait_until(lambda: len(gotrack.orders()) == 1, timeout=30)
    finally:
        assert daemon.stop(signal.SIGTERM) == 0
    status = run_cli("status", config=config, env=env)
    assert status.returncode == 0, status.stderr
    assert str(service_state) in status.stdout  # the service's ledger, not one of its own


def example_with_everything_on(tmp_path):
    """`sync-daemon config-example`, unchanged but for every platform switched on and a state_dir."""
    printed = run_cli("config-example")
    assert printed.returncode == 0
    assert printed.stdout == (ROOT / "config.example.toml").read_text()  # the package ships the repository's file
    text = printed.stdout.replace("enabled = false", "enabled = true").replace(
        '# state_dir = "/var/lib/sync-daemon"', f'state_dir = "{tmp_path / "state"}"'
    )
    config = tmp_path / "config.toml"
    config.write_text(text)
    config.chmod(0o600)
    return config


def test_check_config_lists_every_placeholder_test_connection_refuses_in_the_same_words(tmp_path):
    config = example_with_everything_on(tmp_path)
    checked = run_cli("check-config", config=config)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    problems = [line.removeprefix("  - ") for line in checked.stderr.splitlines() if line.startswith("  - ")]
    placeholders = {line.split()[0] for line in problems if "still holds the example placeholder" in line}
    assert placeholders == {
        "woocommerce.url", "woocommerce.consumer_key", "woocommerce.consumer_secret", "gotrack.api_key",
        "gotrack.api_secret", "orderrepo.api_key", "shopback.offer_id", "shopback.security_token", "tracktor.uuid",
        "tracktor.api_key",
    }
    tested = run_cli("test-connection", config=config)
    assert tested.returncode == 1 and not tested.stdout.startswith("\n")
    for line in problems:  # nothing was sent: each connection fails on the very same findings
        problem, _, fix = line.partition(" — ")
        assert problem in tested.stdout and fix in tested.stdout, line


def test_check_config_refuses_pasted_values_and_addresses_without_sending(tmp_path, woocommerce, gotrack):
    cases = {
        "woocommerce.consumer_key": ('"ck_0123456789abcdef0123456789abcdef01234567 "', "has a space at the end"),
        "woocommerce.consumer_secret": ('"••••••••"', "was pasted as bullet characters"),
        "woocommerce.url": ('"https://shop.example.net/wp-json/wc/v3"', "points into WordPress (/wp-json…)"),
        "gotrack.endpoint": ('"https://user:pw@gotrack.example.net/api/v1/orders"', "must not carry a user name"),
    }
    for dotted, (literal, expected) in cases.items():
        config = write_config(tmp_path / "config.toml", woocommerce, gotrack, **{dotted: literal})
        checked = run_cli("check-config", config=config)
        assert checked.returncode == 2, (dotted, checked.stdout)
        assert f"  - {dotted}" in checked.stderr and expected in checked.stderr, checked.stderr
        assert "pw@" not in checked.stderr and "Traceback" not in checked.stderr
        broken = woocommerce if dotted.startswith("woocommerce") else gotrack
        broken.reset()
        tested = run_cli("test-connection", config=config)
        assert tested.returncode == 1 and expected in tested.stdout, tested.stdout
        assert broken.request_log() == []  # refused before any request

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, state_dir=f'"{blocked / "state"}"')
    checked = run_cli("check-config", config=config)
    assert checked.returncode == 2 and f"state directory {blocked / 'state'} does not exist and cannot be created" \
        in checked.stderr
    assert not (blocked / "state").exists()


def test_check_config_warns_about_a_listener_on_every_address(tmp_path, woocommerce, gotrack):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack,
                          **{"server.enabled": "true", "server.listen": '"0.0.0.0:8787"'})
    checked = run_cli("check-config", config=config)
    assert checked.returncode == 0, checked.stderr
    assert "warning: server.listen = '0.0.0.0:8787' answers on every network address" in checked.stderr
    assert "reverse proxy with TLS" in checked.stderr


def test_every_command_reads_the_service_credentials_and_says_where_each_value_came_from(
    tmp_path, woocommerce, gotrack
):
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack)
    shop = woocommerce.credentials
    folder = tmp_path / "credentials"  # what the unit's LoadCredential= lines read
    folder.mkdir(mode=0o700)
    for key in ("consumer_key", "consumer_secret"):
        (folder / f"woocommerce.{key}").write_text(shop[key] + "\n")
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("consumer_")))

    alone = run_cli("test-connection", "woocommerce", config=config)
    assert alone.returncode != 0 and "woocommerce.consumer_key" in alone.stdout + alone.stderr

    tested = run_cli("--credentials-dir", str(folder), "test-connection", config=config)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    shop_line = tested.stdout.splitlines()[0]
    assert f"in {config}: url" in shop_line
    assert f"in credential file {folder / 'woocommerce.consumer_key'}: consumer_key" in shop_line
    assert f"in credential file {folder / 'woocommerce.consumer_secret'}: consumer_secret" in shop_line
    assert "in " + str(config) + ": endpoint, api_key, api_secret" in tested.stdout.splitlines()[1]
    assert shop["consumer_secret"] not in tested.stdout + tested.stderr

    woocommerce.add_orders([make_order(8300)])
    resync = run_cli("--credentials-dir", str(folder), "resync", "8300", config=config)
    assert resync.returncode == 0, resync.stdout + resync.stderr
    assert len(gotrack.orders()) == 1

    missing = run_cli("--credentials-dir", str(tmp_path / "nowhere"), "status", config=config)
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code in (200, 503)
    except requests.ConnectionError:
        return False


def reloads(daemon: Daemon) -> list[dict]:
    return [line for line in daemon.log_lines() if line.get("event") == "configuration reloaded"]


def test_reload_starts_moves_and_stops_the_listener_and_names_what_changed(tmp_path, woocommerce, gotrack):
    first, second = free_port(), free_port()
    secret = "whsec-reload-" + "9" * 24
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack,
                          **{"server.enabled": "false", "server.listen": f'"127.0.0.1:{first}"'})
    daemon = Daemon(config, tmp_path / "daemon.log")

    def reload_with(**overrides: str) -> dict:
        done = len(reloads(daemon))
        write_config(config, woocommerce, gotrack, **overrides)
        daemon.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: len(reloads(daemon)) > done, timeout=30), daemon.log_path.read_text()
        return reloads(daemon)[-1]

    try:
        assert wait_until(lambda: any(line.get("event") == "sync-daemon started" for line in daemon.log_lines()))
        assert not answers(first)

        switched_on = reload_with(**{"server.enabled": "true", "server.listen": f'"127.0.0.1:{first}"'})
        assert switched_on["changed"] == ["server"]
        assert switched_on["listener"] == f"listener started on 127.0.0.1:{first}"
        assert wait_until(lambda: answers(first), timeout=10)

        moved = reload_with(**{"server.enabled": "true", "server.listen": f'"127.0.0.1:{second}"',
                               "server.woocommerce_secret": f'"{secret}"'})
        assert moved["changed"] == ["server"] and moved["listener"] == f"listener moved to 127.0.0.1:{second}"
        assert wait_until(lambda: answers(second), timeout=10) and not answers(first)

        secret_only = reload_with(**{"server.enabled": "true", "server.listen": f'"127.0.0.1:{second}"',
                                     "server.woocommerce_secret": '"whsec-another-one-0000000000"'})
        assert secret_only["changed"] == ["server"] and "listener" not in secret_only  # read per request

        with socket.socket() as holder:  # an address in use: the reload is refused, the old listener serves on
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            taken = holder.getsockname()[1]
            write_config(config, woocommerce, gotrack,
                         **{"server.enabled": "true", "server.listen": f'"127.0.0.1:{taken}"'})
            daemon.process.send_signal(signal.SIGHUP)
            assert wait_until(lambda: any(line.get("event", "").startswith("reload rejected")
                                          for line in daemon.log_lines()), timeout=30)
        rejected = next(line for line in daemon.log_lines() if line.get("event", "").startswith("reload rejected"))
        assert f"127.0.0.1:{taken}: cannot listen there" in rejected["problems"] and answers(second)

        switched_off = reload_with(**{"server.enabled": "false", "server.listen": f'"127.0.0.1:{second}"'})
        assert switched_off["changed"] == ["server"] and switched_off["listener"] == "listener stopped"
        assert not answers(second)
        assert daemon.process.poll() is None
    finally:
        assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.log_path.read_text()
    assert secret not in log and "whsec-another-one" not in log
