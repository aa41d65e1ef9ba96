"""``sync-daemon webhooks install|status|remove``: the daemon's WooCommerce webhooks (hints, not data)."""

from __future__ import annotations

import click

from sync_daemon.cli.base import EXIT_CONFIG, config_option, console, fail, friendly_errors, print_json
from sync_daemon.config import load_settings


def _shop(config_file: str | None):  # noqa: ANN202 - the source type is imported lazily
    from sync_daemon.source.woocommerce import WooCommerceSource

    settings = load_settings(config_file)
    return settings, WooCommerceSource(settings.woocommerce)


def _show(hooks: list, as_json: bool) -> None:
    if as_json:
        print_json([hook.as_dict() for hook in hooks])
        return
    if not hooks:
        click.echo("no sync-daemon webhooks in the shop (run `sync-daemon webhooks install --public-url URL`)")
    for hook in hooks:
        health = "healthy" if hook.failure_count == 0 else f"{hook.failure_count} failed deliveries in a row"
        console.print(f"#{hook.id}  {hook.topic:<14} {hook.status:<9} {health}  → {hook.as_dict()['delivery_url']}")


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
    """Create order.created and order.updated webhooks pointing at the listener, with a generated secret."""
    from sync_daemon.setup.webhooks import ensure_secret
    from sync_daemon.source.webhook_admin import install as install_hooks

    settings, shop = _shop(config_file)
    target = (public_url or settings.server.public_url).strip()
    if not target:
        fail("--public-url is required (or set server.public_url)", EXIT_CONFIG)
    secret = ensure_secret(settings, config_file, credentials_dir)
    _show(install_hooks(shop, target, secret), as_json)
    if not as_json:
        click.echo("installed; reload or restart the daemon if the secret is new (systemctl reload sync-daemon)")


@webhooks.command()
@click.option("--json", "as_json", is_flag=True)
@config_option
@friendly_errors
def status(as_json: bool, config_file: str | None) -> None:
    """Each webhook's WooCommerce status and delivery health."""
    from sync_daemon.source.webhook_admin import ours

    _, shop = _shop(config_file)
    _show(ours(shop), as_json)


@webhooks.command()
@config_option
@friendly_errors
def remove(config_file: str | None) -> None:
    """Delete the daemon's webhooks from the shop (the secret stays in the config)."""
    from sync_daemon.source.webhook_admin import remove as remove_hooks

    _, shop = _shop(config_file)
    removed = remove_hooks(shop)
    click.echo(f"removed {len(removed)} webhook(s)" + (f": {', '.join(map(str, removed))}" if removed else ""))
