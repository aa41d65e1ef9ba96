"""Run simulators in their own process: ``python -m sync_daemon.simulators [--woocommerce] ...``.

Prints one JSON line with each simulator's url and credentials, then serves until SIGTERM or
SIGINT and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from .gotrack import GoTrackSimulator
from .orderrepo import OrderRepoSimulator
from .orders import demo_orders
from .woocommerce import WooCommerceSimulator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m sync_daemon.simulators", description=__doc__)
    parser.add_argument("--woocommerce", action="store_true", help="start the WooCommerce simulator")
    parser.add_argument("--gotrack", action="store_true", help="start the GoTrack.bd simulator")
    parser.add_argument("--orderrepo", action="store_true", help="start the OrderRepo simulator")
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="seed N generated orders")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated orders")
    parser.add_argument("--demo-orders", action="store_true", help="seed the twelve demo orders")
    parser.add_argument(
        "--permission",
        default="read_write",
        choices=("read", "write", "read_write"),
        help="permission of the WooCommerce key",
    )
    parser.add_argument(
        "--storage", default="posts", choices=("posts", "hpos"), help="the shop's order storage (date_modified rules)"
    )
    parser.add_argument(
        "--origin",
        action="append",
        default=None,
        help="origin OrderRepo accepts (repeatable; default https://shop.example.com)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the chosen simulators (all when none is named) and serve until a signal."""
    args = parse_args(argv)
    chosen = {"woocommerce": args.woocommerce, "gotrack": args.gotrack, "orderrepo": args.orderrepo}
    if not any(chosen.values()):
        chosen = dict.fromkeys(chosen, True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sims: list[Any] = []
    info: dict[str, Any] = {}
    try:
        if chosen["woocommerce"]:
            wc = WooCommerceSimulator(permission=args.permission, storage=args.storage).start()
            sims.append(wc)
            if args.demo_orders:
                wc.add_orders(demo_orders())
            if args.generate:
                wc.generate_orders(args.generate, seed=args.seed)
            info["woocommerce"] = {
                "url": wc.url,
                "credentials": wc.credentials,
                "orders": len(wc.order_ids()),
                "storage": wc.storage,
            }
        if chosen["gotrack"]:
            gt = GoTrackSimulator().start()
            sims.append(gt)
            info["gotrack"] = {"url": gt.url, "endpoint": gt.endpoint, "credentials": gt.credentials}
        if chosen["orderrepo"]:
            origins = tuple(args.origin or ("https://shop.example.com",))
            repo = OrderRepoSimulator(allowed_origins=origins).start()
            sims.append(repo)
            info["orderrepo"] = {
                "url": repo.url,
                "credentials": repo.credentials,
                "allowed_origins": list(origins),
            }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        for sim in sims:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
