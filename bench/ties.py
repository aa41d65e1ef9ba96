"""Orders sharing one modification second (issue 27), a bench script, not a test: ``python -m bench.ties``.

A shop (``--storage``, HPOS by default) holds ``--pages`` × ``--per-page`` orders modified in one
second (a bulk action, an import), with a few orders just before and after it. The shop returns the
rows of one second in another order for each page, as MySQL does for ``orderby=modified``. Printed,
as one JSON line:

1. what plain page numbers within that second would read: rows, distinct orders, orders on no page;
2. the real daemon (``python -m sync_daemon run``, GoTrack and OrderRepo enabled) until every order is
   delivered and three more polls have re-read that second: rows read, list requests made, orders
   delivered to each platform, missing, duplicates (a second copy or any update), seconds until the
   last delivery.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_daemon.simulators.gotrack import GoTrackSimulator
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator
from sync_daemon.source.settings import WooCommerceSettings
from sync_daemon.source.woocommerce import WooCommerceSource
from tests.e2e.harness import Daemon, wait_until, write_config

LIST = "/wp-json/wc/v3/orders"


def seed(shop: WooCommerceSimulator, tied: int) -> tuple[datetime, set[int]]:
    """``tied`` orders in one second ten minutes ago, three before and three after; (that second, all ids)."""
    second = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    orders = [make_order(1 + index, created=second - timedelta(seconds=3 - index)) for index in range(3)]
    orders += [make_order(1000 + index, created=second) for index in range(tied)]
    orders += [make_order(100_000 + index, created=second + timedelta(seconds=1 + index)) for index in range(3)]
    shop.add_orders(orders)
    return second, {order["id"] for order in orders}


def page_numbers(shop: WooCommerceSimulator, second: datetime, pages: int, per_page: int) -> dict[str, int]:
    """The second read with page numbers in one window, as the daemon did before issue 27."""
    credentials = shop.credentials
    source = WooCommerceSource(WooCommerceSettings(url=shop.url, consumer_key=credentials["consumer_key"],
                                                   consumer_secret=credentials["consumer_secret"], per_page=per_page))
    rows: list[int] = []
    try:
        for page in range(1, pages + 1):
            _, orders = source._list(source._list_params(second - timedelta(seconds=1), page))  # noqa: SLF001
            rows += [order["id"] for order in orders if order["id"] >= 1000 and order["id"] < 100_000]
    finally:
        source.close()
    return {"rows": len(rows), "distinct": len(set(rows)), "on_no_page": pages * per_page - len(set(rows))}


def daemon_run(pages: int, per_page: int, storage: str) -> dict[str, Any]:
    """The real daemon against a shop with ``pages`` × ``per_page`` orders in one second."""
    with tempfile.TemporaryDirectory() as tmp, WooCommerceSimulator(storage=storage) as shop, \
            GoTrackSimulator() as gotrack, \
            OrderRepoSimulator(allowed_origins=("https://shop.example.com",)) as repo:
        second, expected = seed(shop, pages * per_page)
        plain = page_numbers(shop, second, pages, per_page)
        requests_before = shop.count("GET", LIST)
        config = write_config(Path(tmp) / "config.toml", shop, gotrack, repo,
                              **{"woocommerce.per_page": str(per_page)})
        started = time.monotonic()
        daemon = Daemon(config, Path(tmp) / "daemon.log")
        try:
            all_in = wait_until(lambda: {int(o["external_id"]) for o in repo.orders()} >= expected
                                and len(gotrack.orders()) >= len(expected), timeout=300)
            seconds = time.monotonic() - started
            passes = len(_passes(daemon))
            wait_until(lambda: len(_passes(daemon)) >= passes + 3, timeout=120)
        finally:
            daemon.stop()
        fetched = sum(line.get("fetched", 0) for line in _passes(daemon))
        gotrack_ids = Counter(int(o["payload"]["external_order_id"]) for o in gotrack.orders())
        repo_ids = Counter(int(o["external_id"]) for o in repo.orders())
        return {
            "storage": storage, "orders_in_shop": len(expected), "in_one_second": pages * per_page,
            "per_page": per_page,
            "page_numbers_would_read": plain,
            "all_delivered": all_in, "seconds_to_last_delivery": round(seconds, 2),
            "rows_read": fetched, "list_requests": shop.count("GET", LIST) - requests_before,
            "delivered_gotrack": len(gotrack_ids), "delivered_orderrepo": len(repo_ids),
            "missing": len(expected - set(gotrack_ids)) + len(expected - set(repo_ids)),
            "duplicates": sum(n - 1 for n in gotrack_ids.values()) + sum(n - 1 for n in repo_ids.values())
            + sum(o["update_requests"] for o in repo.orders()),
            "passes": len(_passes(daemon)),
        }


def _passes(daemon: Daemon) -> list[dict[str, Any]]:
    return [line for line in daemon.log_lines() if line.get("event") == "pass finished"]


def main() -> None:
    """Run the figure and print it as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--storage", choices=("posts", "hpos"), default="hpos")
    arguments = parser.parse_args()
    print(json.dumps({"one_busy_second": daemon_run(arguments.pages, arguments.per_page, arguments.storage)}))


if __name__ == "__main__":
    main()
