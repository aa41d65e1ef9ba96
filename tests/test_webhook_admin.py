"""`sync-daemon webhooks install|status|remove` and re-activation, against the simulator and the real listener."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sync_daemon.cli import main
from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.service.hints import HintBox
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import Metrics
from sync_daemon.source import webhook_admin
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import WooCommerceSource


@pytest.fixture
def served():
    """A listener whose secret the test can change (as a reload would)."""
    holder = {"settings": ServerSettings(listen="127.0.0.1:0")}
    server = Listener(ListenerApp(Routes(lambda: holder["settings"], HintBox(), Metrics())), holder["settings"])
    server.start()
    host, port = server.address
    yield f"http://{host}:{port}", holder
    server.stop()


def shop_for(woocommerce) -> WooCommerceSource:
    return WooCommerceSource(WooCommerceSettings(url=woocommerce.url, consumer_key=woocommerce.consumer_key,
                                                 consumer_secret=woocommerce.consumer_secret))


def test_install_is_idempotent_and_remove_leaves_other_webhooks(woocommerce, served):
    public, _ = served
    woocommerce.webhooks.create("http://203.0.113.1/other", "order.created", "theirs", ping=False)
    shop = shop_for(woocommerce)
    hooks = webhook_admin.install(shop, public, "secret-one-12345")
    assert sorted(hook.topic for hook in hooks) == ["order.created", "order.updated"]
    assert {hook.delivery_url for hook in hooks} == {public + "/webhooks/woocommerce"}
    assert len(webhook_admin.install(shop, public, "secret-one-12345")) == 2  # updated, not duplicated
    assert len(woocommerce.webhooks.hooks) == 3
    assert len(webhook_admin.remove(shop)) == 2
    assert [hook["name"] for hook in woocommerce.webhooks.hooks.values()] == ["Order order.created"]


def test_a_disabled_webhook_is_reactivated(woocommerce, served):
    public, _ = served
    shop = shop_for(woocommerce)
    hooks = webhook_admin.install(shop, public, "secret-two-12345")
    woocommerce.webhooks.hooks[hooks[0].id]["status"] = "disabled"
    revived = webhook_admin.reactivate(shop)
    assert [hook.id for hook in revived] == [hooks[0].id]
    assert {hook.status for hook in webhook_admin.ours(shop)} == {"active"}
    assert webhook_admin.reactivate(shop) == []


def test_cli_install_generates_and_stores_the_secret(woocommerce, served, tmp_path):
    public, holder = served
    config = tmp_path / "config.toml"
    config.write_text(
        "# my shop\n[woocommerce]\n"
        f'url = "{woocommerce.url}"\nconsumer_key = "{woocommerce.consumer_key}"\n'
        f'consumer_secret = "{woocommerce.consumer_secret}"\n[gotrack]\nenabled = true\n'
        'endpoint = "https://gotrack.example.com"\napi_key = "fbc_0123456789abcdef"\napi_secret = "secret-1234"\n'
    )
    runner = CliRunner()
    result = runner.invoke(main, ["webhooks", "install", "--public-url", public, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert text.startswith("# my shop") and "woocommerce_secret" in text
    stored = [hook["secret"] for hook in woocommerce.webhooks.hooks.values()]
    assert len(stored) == 2 and all(secret in text for secret in stored)
    assert stored[0] not in result.output
    status = runner.invoke(main, ["webhooks", "status", "--json", "--config", str(config)])
    assert [hook["status"] for hook in json.loads(status.output)] == ["active", "active"]
    removed = runner.invoke(main, ["webhooks", "remove", "--config", str(config)])
    assert "removed 2" in removed.output


def test_a_reactivation_by_the_daemon_is_counted_where_status_shows_it(woocommerce, served, tmp_path, capsys):
    import threading

    from sync_daemon.app import build_engine
    from sync_daemon.cli.render import print_summary
    from sync_daemon.config import Settings
    from sync_daemon.ledger import SqliteLedger
    from sync_daemon.service.intake import Intake

    public, _ = served
    hooks = webhook_admin.install(shop_for(woocommerce), public, "secret-three-12345")
    woocommerce.webhooks.hooks[hooks[1].id]["status"] = "disabled"
    settings = Settings.model_validate({
        "state_dir": str(tmp_path),
        "woocommerce": {"url": woocommerce.url, "consumer_key": woocommerce.consumer_key,
                        "consumer_secret": woocommerce.consumer_secret},
        "gotrack": {"enabled": True, "api_key": "fbc_x", "api_secret": "s"},
    })
    ledger = SqliteLedger.open(tmp_path)
    engine = build_engine(settings, ledger, threading.Event())
    try:
        Intake(settings)._reactivate(engine)
        summary = ledger.summary()
    finally:
        engine.close()
        ledger.close()
    assert summary["webhooks_reactivated"] == 1 and summary["last_webhook_reactivated_at"]
    print_summary(summary)
    assert "WooCommerce webhooks re-activated after WooCommerce disabled them: 1" in capsys.readouterr().out


def test_the_secret_replaces_the_commented_example_line_and_keeps_every_comment():
    from sync_daemon.setup.webhooks import with_secret

    text = ('# my shop\n[woocommerce]\nurl = "https://shop"\n# woocommerce_secret = "not this one"\n\n'
            '[server]\n# the listener\nenabled = true\n# woocommerce_secret = ""\n# public_url = ""\n\n[gotrack]\n')
    assert with_secret(text, 'se"cret') == text.replace('enabled = true\n# woocommerce_secret = ""',
                                                        'enabled = true\nwoocommerce_secret = "se\\"cret"')


def test_the_secret_is_set_as_a_key_without_an_example_line():
    import tomllib

    from sync_daemon.setup.webhooks import with_secret

    plain = '# my shop\n[woocommerce]\nurl = "https://shop"\n'
    assert tomllib.loads(with_secret(plain, "s1"))["server"] == {"woocommerce_secret": "s1"}
    assert with_secret(plain, "s1").startswith(plain)
    empty = '[server]\nenabled = true  # on\nwoocommerce_secret = ""\n'
    assert with_secret(empty, "s2") == '[server]\nenabled = true  # on\nwoocommerce_secret = "s2"\n'


def test_a_credential_file_is_written_only_when_the_install_worked(woocommerce, served, tmp_path):
    import socket

    public, _ = served
    config = tmp_path / "config.toml"
    config.write_text(f'[woocommerce]\nurl = "{woocommerce.url}"\nconsumer_key = "{woocommerce.consumer_key}"\n'
                      f'consumer_secret = "{woocommerce.consumer_secret}"\n[gotrack]\nenabled = true\n'
                      'api_key = "fbc_0123456789abcdef"\napi_secret = "secret-1234"\n')
    credentials = tmp_path / "credentials"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    runner = CliRunner()
    refused = runner.invoke(main, ["webhooks", "install", "--public-url", nowhere, "--credentials-dir",
                                   str(credentials), "--config", str(config)])
    assert refused.exit_code == 75
    assert "(it is false in this config: set it, then restart the daemon)" in refused.output
    assert not credentials.exists() and woocommerce.webhooks.hooks == {}
    done = runner.invoke(main, ["webhooks", "install", "--public-url", public, "--credentials-dir",
                                str(credentials), "--config", str(config)])
    assert done.exit_code == 0, done.output
    stored = credentials / "server.woocommerce_secret"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert {hook["secret"] for hook in woocommerce.webhooks.hooks.values()} == {stored.read_text().strip()}
    assert "restart needed: `systemctl restart sync-daemon`" in done.output
    assert "woocommerce_secret" not in config.read_text()
