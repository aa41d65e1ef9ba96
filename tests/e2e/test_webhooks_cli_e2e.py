"""What a person sees from `sync-daemon webhooks install|status` (the real CLI as a subprocess).

WooCommerce saves a webhook (201) even when its ping to the delivery URL fails, so install asks the
listener itself: with none answering it says how to start and check one, and installs and saves
nothing; with the daemon running it installs, saves the new secret in place of config.example.toml's
commented line, and says whether the running daemon needs a reload.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

from .harness import ROOT, Daemon, run_cli, wait_until, write_config
from .test_webhooks_e2e import free_port, get

EXAMPLE_LINE = '# woocommerce_secret = ""'


def example_server_section(port: int, public_url: str) -> str:
    """config.example.toml's [server] section as shipped, switched on, on ``port``."""
    text = (ROOT / "config.example.toml").read_text()
    section = text[text.index("[server]\n"):]
    section = section[: section.index("\n[", 1) + 1]
    assert EXAMPLE_LINE in section
    return (section.replace("enabled = false", "enabled = true")
            .replace('listen = "127.0.0.1:8787"', f'listen = "127.0.0.1:{port}"')
            .replace('# public_url = "https://shop.example.com/sync-daemon"', f'public_url = "{public_url}"'))


def config_with_example_server(tmp_path: Path, woocommerce, orderrepo, port: int) -> Path:
    path = write_config(tmp_path / "config.toml", woocommerce, orderrepo=orderrepo, poll_interval_seconds="60")
    path.write_text(path.read_text() + "\n" + example_server_section(port, f"http://127.0.0.1:{port}"))
    return path


def test_install_with_no_listener_says_how_to_check_it_and_saves_nothing(tmp_path, woocommerce, orderrepo):
    port = free_port()  # nothing listens there
    config = config_with_example_server(tmp_path, woocommerce, orderrepo, port)
    before = config.read_text()
    result = run_cli("webhooks", "install", config=config)
    assert result.returncode == 75, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert f"the listener does not answer at http://127.0.0.1:{port}/webhooks/woocommerce" in message
    assert "The daemon must be running with [server] enabled = true" in message
    assert f"curl http://127.0.0.1:{port}/healthz" in message
    assert "no secret saved" in message and "HTTP 400" not in message
    assert config.read_text() == before
    assert woocommerce.webhooks.hooks == {}


def test_install_with_the_daemon_running_saves_the_secret_and_says_whether_to_reload(tmp_path, woocommerce,
                                                                                        orderrepo):
    port = free_port()
    config = config_with_example_server(tmp_path, woocommerce, orderrepo, port)
    before = config.read_text()
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=30)
        first = run_cli("webhooks", "install", config=config)
        assert first.returncode == 0, first.stderr
        assert "reload needed (the secret is new): `systemctl reload sync-daemon`" in first.stdout
        assert f"secret: new, saved in {config.resolve()}" in first.stdout
        text = config.read_text()
        lines, shipped = text.splitlines(), before.splitlines()
        number = shipped.index(EXAMPLE_LINE)  # the secret takes the example line's place; nothing else moves
        assert lines[:number] + lines[number + 1 :] == shipped[:number] + shipped[number + 1 :]
        secret = re.fullmatch(r'woocommerce_secret = "(.+)"', lines[number]).group(1)
        assert {hook["secret"] for hook in woocommerce.webhooks.hooks.values()} == {secret}
        assert secret not in first.stdout + first.stderr

        daemon.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: any("reloaded" in str(line.get("event", "")) for line in daemon.log_lines()))
        again = run_cli("webhooks", "install", "--json", config=config)
        assert again.returncode == 0, again.stderr
        answer = json.loads(again.stdout)
        assert (answer["reload_needed"], answer["secret"]) == (False, "the configured one, kept")
        assert [hook["status"] for hook in answer["webhooks"]] == ["active", "active"]
        assert config.read_text() == text

        assert run_cli("webhooks", "remove", config=config).returncode == 0
        status = run_cli("webhooks", "status", config=config)
        assert status.stdout.strip() == "no sync-daemon webhooks in the shop (run `sync-daemon webhooks install`)"
    finally:
        assert daemon.stop() == 0
    assert secret not in (tmp_path / "daemon.log").read_text()
