"""Tracktor end to end: `sync-daemon tracktor …` as a subprocess against the Tracktor simulator."""

from __future__ import annotations

import json

import pytest

from sync_daemon.simulators import TracktorSimulator

from .harness import run_cli

KEY = "trk_e2e_5d41402abc4b2a76b9719d91"


def cli(*args: str, config):
    return run_cli("tracktor", *args, config=config, timeout=30)


@pytest.fixture
def tracktor():
    with TracktorSimulator(api_key=KEY) as simulator:
        yield simulator


def write_config(path, sim, *, enabled: str = "true", uuid: str | None = None):
    path.write_text(
        f'state_dir = "{path.parent / "state"}"\n'
        "[woocommerce]\n"
        'url = "https://shop.example.com"\n'
        'consumer_key = "ck_0000000000000000000000000000000000000000"\n'
        'consumer_secret = "cs_0000000000000000000000000000000000000000"\n'
        "[tracktor]\n"
        f"enabled = {enabled}\n"
        f'base_url = "{sim.base_url}"\n'
        f'uuid = "{sim.uuid if uuid is None else uuid}"\n'
        f'api_key = "{KEY}"\n'
        "timeout_seconds = 3\n"
    )
    path.chmod(0o600)
    return path


def assert_one_clear_line(result, code: int, text: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and KEY not in result.stderr + result.stdout
    assert text in result.stderr
    assert result.stderr.startswith("sync-daemon: ")


def test_status_options_table_and_json(tmp_path, tracktor):
    config = write_config(tmp_path / "config.toml", tracktor)
    result = cli("status-options", config=config)
    assert result.returncode == 0, result.stderr
    for text in ("Tracktor status options", "order_ready", "Out for delivery", "ready_for_pickup", "yes"):
        assert text in result.stdout
    result = cli("status-options", "--json", config=config)
    assert result.returncode == 0, result.stderr
    assert [o["slug"] for o in json.loads(result.stdout)][-1] == "ready_for_pickup"


def test_webhooks_create_list_delete(tmp_path, tracktor):
    config = write_config(tmp_path / "config.toml", tracktor)
    assert "no Tracktor webhooks" in cli("webhooks", "list", config=config).stdout
    hook = "https://shop.example.com/hooks/tracktor"
    created = cli("webhooks", "create", "fulfillment/delivered", hook, config=config)
    assert created.returncode == 0, created.stderr
    (webhook,) = tracktor.webhooks()
    assert f"created webhook {webhook['id']}: fulfillment/delivered" in created.stdout
    assert webhook["address"] == "https://shop.example.com/hooks/tracktor"
    table = cli("webhooks", "list", config=config)
    assert table.returncode == 0 and "fulfillment/delivered" in table.stdout and str(webhook["id"]) in table.stdout
    listed = json.loads(cli("webhooks", "list", "--json", config=config).stdout)
    assert [w["id"] for w in listed] == [webhook["id"]]
    deleted = cli("webhooks", "delete", str(webhook["id"]), config=config)
    assert deleted.returncode == 0 and f"deleted webhook {webhook['id']}" in deleted.stdout
    assert tracktor.webhooks() == []
    again = cli("webhooks", "delete", str(webhook["id"]), config=config)
    assert_one_clear_line(again, 1, f"has no webhook {webhook['id']}")


def test_invalid_topic_and_plain_http_are_one_line_and_send_nothing(tmp_path, tracktor):
    config = write_config(tmp_path / "config.toml", tracktor)
    result = cli("webhooks", "create", "order/shipped", "https://shop.example.com/hook", config=config)
    assert_one_clear_line(result, 2, "'order/shipped' is not a webhook topic")
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("webhooks", "create", "order/all", "http://shop.example.com/hook", config=config)
    assert_one_clear_line(result, 2, "is not an https:// URL")
    assert tracktor.stats()["total"] == 0


def test_disabled_or_incomplete_section_exits_2(tmp_path, tracktor):
    disabled = write_config(tmp_path / "disabled.toml", tracktor, enabled="false")
    result = cli("status-options", config=disabled)
    assert_one_clear_line(result, 2, "tracktor is not enabled: set enabled = true in the [tracktor] section")
    incomplete = write_config(tmp_path / "incomplete.toml", tracktor, uuid="")
    result = cli("webhooks", "list", config=incomplete)
    assert_one_clear_line(result, 2, "tracktor.uuid: required")
    assert tracktor.stats()["total"] == 0


def test_wrong_uuid_and_wrong_key(tmp_path, tracktor):
    wrong_uuid = write_config(tmp_path / "uuid.toml", tracktor, uuid="0000-1111")
    assert_one_clear_line(cli("status-options", config=wrong_uuid), 2, "is tracktor.uuid right?")
    tracktor.api_key = "trk_e2e_rotated_key_000000000000"
    config = write_config(tmp_path / "config.toml", tracktor)
    assert_one_clear_line(cli("webhooks", "list", config=config), 1, "check tracktor.api_key")


def test_a_webhook_can_point_at_the_listener_with_its_token_masked(tmp_path, tracktor):
    config = write_config(tmp_path / "config.toml", tracktor)
    missing = cli("webhooks", "create", "order/all", "--to-listener", config=config)
    assert_one_clear_line(missing, 2, "server.public_url: required")
    assert "server.tracktor_secret: required" in missing.stderr and tracktor.stats()["total"] == 0

    token = "trk-listener-token-7f3a9c2e5b1d4e6f"
    with config.open("a") as handle:
        handle.write(f'[server]\npublic_url = "https://sync.shop.example.com/"\ntracktor_secret = "{token}"\n')
    created = cli("webhooks", "create", "order/all", "--to-listener", config=config)
    assert created.returncode == 0, created.stderr
    (webhook,) = tracktor.webhooks()
    assert webhook["address"] == f"https://sync.shop.example.com/webhooks/tracktor/{token}"
    assert token not in created.stdout + created.stderr  # the token is a secret: masked when shown
    both = cli("webhooks", "create", "order/all", "https://x.example.com/h", "--to-listener", config=config)
    assert both.returncode == 2 and "give either URL or --to-listener" in both.stderr
