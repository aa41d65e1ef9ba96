"""``sync-daemon webhooks install|status|remove``: the daemon's WooCommerce webhooks (hints, not data)."""

from __future__ import annotations

from typing import Any

import click

from sync_daemon.cli.base import (
    EXIT_CONFIG,
    EXIT_TEMPORARY,
    config_option,
    fail,
    friendly_errors,
    print_json,
)
from sync_daemon.config import Settings, load_settings
from sync_daemon.core.redaction import safe_url


def _shop(config_file: str | None):  # noqa: ANN202 - the source type is imported lazily
    from sync_daemon.source.woocommerce import WooCommerceSource

    settings = load_settings(config_file)
    return settings, WooCommerceSource(settings.woocommerce)


def _show(hooks: list, as_json: bool, public_url: str = "") -> None:
    if as_json:
        print_json([hook.as_dict() for hook in hooks])
        return
    if not hooks:
        how = "`sync-daemon webhooks install`" if public_url else "`sync-daemon webhooks install --public-url URL`"
        click.echo(f"no sync-daemon webhooks in the shop (run {how})")
    for hook in hooks:
        health = "healthy" if hook.failure_count == 0 else f"{hook.failure_count} failed deliveries in a row"
        # click.echo: the URL and status come from the shop and are printed as text, never as rich markup
        click.echo(f"#{hook.id}  {hook.topic:<14} {hook.status:<9} {health}  → {hook.as_dict()['delivery_url']}")


def _not_listening(settings: Settings, url: str, detail: str) -> str:
    """What to do when nothing (or not our listener) answers at the delivery URL."""
    host, port = settings.server.address()
    local = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}/healthz"
    text = (f"the listener does not answer at {url}: {detail}. Nothing was installed and no secret saved. "
            "The daemon must be running with [server] enabled = true")
    if not settings.server.enabled:
        text += " (it is false in this config: set it, then restart the daemon)"
    return text + (f"; check it with `curl {local}` (the [server] listen address) and that "
                   "--public-url or server.public_url leads to it, then run install again")


def _reload_advice(new_secret: bool, knows_secret: bool | None, credentials_dir: str | None) -> str:
    """Whether the running daemon must pick up the secret, and how."""
    if not new_secret and knows_secret:
        return "no reload needed: the running daemon already verifies this secret"
    if credentials_dir and new_secret:
        return ("restart needed: `systemctl restart sync-daemon` (systemd hands credential files to the "
                "service only when it starts)")
    why = "the secret is new" if new_secret else "the running daemon does not have this secret yet"
    return f"reload needed ({why}): `systemctl reload sync-daemon`, or SIGHUP to `sync-daemon run`"


@click.group()
def webhooks() -> None:
    """WooCommerce webhooks that tell the daemon to look at an order now (polling stays the backstop)."""


@webhooks.command()
@click.option("--public-url", help="Where WooCommerce reaches the listener (default: server.public_url).")
@click.option("--credentials-dir", type=click.Path(file_okay=False),
              help="Store a new secret as DIR/server.woocommerce_secret instead of in the config file.")
@click.option("--json", "as_json", is_flag=True)
@config_option
@friendly_errors
def install(public_url: str | None, credentials_dir: str | None, as_json: bool, config_file: str | None) -> None:
    """Check the listener answers, then create order.created and order.updated webhooks pointing at it."""
    from sync_daemon.setup import webhooks as setup
    from sync_daemon.source.webhook_admin import delivery_url
    from sync_daemon.source.webhook_admin import install as install_hooks

    settings, shop = _shop(config_file)
    target = (public_url or settings.server.public_url).strip()
    if not target:
        fail("--public-url is required (or set server.public_url)", EXIT_CONFIG)
    secret, new_secret = setup.current_or_new_secret(settings)
    destination = setup.secret_destination(config_file, credentials_dir) if new_secret else None
    url = delivery_url(target)
    # WooCommerce saves a webhook (201) even when its ping fails: ask the listener ourselves, first.
    check = setup.check_listener(url, None if new_secret else secret)
    if not check.reachable:
        fail(_not_listening(settings, safe_url(url), check.detail), EXIT_TEMPORARY)
    hooks = install_hooks(shop, target, secret)
    if destination is not None:
        destination = setup.store_secret(secret, config_file, credentials_dir).resolve()
    advice = _reload_advice(new_secret, check.knows_secret, credentials_dir)
    report: dict[str, Any] = {
        "listener": f"answered at {safe_url(url)} (asked from this machine)",
        "secret": f"new, saved in {destination}" if destination else "the configured one, kept",
        "reload_needed": not advice.startswith("no reload"), "advice": advice,
    }
    if as_json:
        print_json({"webhooks": [hook.as_dict() for hook in hooks], **report})
        return
    _show(hooks, False)
    click.echo(f"listener: {report['listener']}; WooCommerce's own deliveries show in `sync-daemon webhooks status`")
    click.echo(f"secret: {report['secret']}")
    click.echo(advice)


@webhooks.command()
@click.option("--json", "as_json", is_flag=True)
@config_option
@friendly_errors
def status(as_json: bool, config_file: str | None) -> None:
    """Each webhook's WooCommerce status and delivery health."""
    from sync_daemon.source.webhook_admin import ours

    settings, shop = _shop(config_file)
    _show(ours(shop), as_json, settings.server.public_url)


@webhooks.command()
@config_option
@friendly_errors
def remove(config_file: str | None) -> None:
    """Delete the daemon's webhooks from the shop (the secret stays in the config)."""
    from sync_daemon.source.webhook_admin import remove as remove_hooks

    _, shop = _shop(config_file)
    removed = remove_hooks(shop)
    click.echo(f"removed {len(removed)} webhook(s)" + (f": {', '.join(map(str, removed))}" if removed else ""))
