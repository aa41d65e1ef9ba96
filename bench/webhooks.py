"""Figures for webhooks and the reconcile sweep (a bench script, not a test): ``python -m bench.webhooks``.

1. the listener under 1 000 signed hints in 10 s: answers, p99 latency, reads per burst, RSS growth;
2. order created → delivered to OrderRepo with webhooks on and a 60 s poll interval (p50/p99);
3. silent address edits caught by the reconcile sweep alone (no webhooks): how many of 100 reach OrderRepo;
4. new orders whose order.created and order.updated come 0.15 s apart (as WooCommerce's): reads per order.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_daemon.core.server_settings import ServerSettings
from sync_daemon.service.hints import HintBox
from sync_daemon.service.listener import Listener, ListenerApp, Routes
from sync_daemon.service.metrics import Metrics
from sync_daemon.simulators.orderrepo import OrderRepoSimulator
from sync_daemon.simulators.orders import make_order
from sync_daemon.simulators.woocommerce import WooCommerceSimulator
from sync_daemon.source.webhooks import signature
from tests.e2e.harness import Daemon, wait_until, write_config

SECRET = "bench-webhook-secret"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _send_hints(url: str, offsets: range, total: int, seconds: float, orders: int, results: Any) -> None:
    """One sender process: its share of the hints at a steady rate; (status, seconds) of each into ``results``."""
    senders = len(offsets)

    def sender(offset: int) -> None:
        for index in range(offset, total, senders):
            body = json.dumps({"id": 1000 + index % orders, "status": "processing"}).encode()
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-WC-Webhook-Topic": "order.updated",
                "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Signature": signature(body, SECRET)})
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=5) as answer:
                status = answer.status
            results.put((status, time.perf_counter() - started))
            time.sleep(max(0.0, seconds * senders / total - (time.perf_counter() - started)))

    threads = [threading.Thread(target=sender, args=(offset,)) for offset in offsets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def listener_flood(total: int = 1000, seconds: float = 10.0, orders: int = 20) -> dict[str, float]:
    """1 000 hints over ``seconds`` from 4 senders in another process (as WooCommerce is), for ``orders``
    distinct orders; a reader drains the hints every 0.5 s, as the daemon's worker would."""
    reads: list[int] = []
    drains = [0]
    hints = HintBox()
    settings = ServerSettings(listen="127.0.0.1:0", woocommerce_secret=SECRET)
    listener = Listener(ListenerApp(Routes(lambda: settings, hints, Metrics())), settings)
    listener.start()
    host, port = listener.address
    url = f"http://{host}:{port}/webhooks/woocommerce"
    stop = threading.Event()

    def reader() -> None:
        while not stop.wait(0.5):
            drains[0] += 1
            reads.extend(hints.take())
        drains[0] += 1
        reads.extend(hints.take())

    before = rss_kib()
    drain = threading.Thread(target=reader)
    drain.start()
    # The senders run in a process of their own: in this one they would compete with the listener for
    # the interpreter lock, and the figure would be the bench's, not the listener's.
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=_send_hints, args=(url, range(4), total, seconds, orders, results))
    process.start()
    answers = [results.get(timeout=60) for _ in range(total)]
    process.join()
    stop.set()
    drain.join()
    listener.stop()
    latencies = [elapsed for _, elapsed in answers]
    return {"answered_2xx": sum(1 for status, _ in answers if 200 <= status < 300), "sent": total,
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "reads": len(reads), "drains": drains[0],
            "max_reads_if_each_order_once_per_drain": orders * drains[0],
            "rss_growth_mib": round((rss_kib() - before) / 1024, 1)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _daemon(directory: Path, shop: WooCommerceSimulator, repo: OrderRepoSimulator, **overrides: str) -> Daemon:
    config = write_config(directory / "config.toml", shop, orderrepo=repo, poll_interval_seconds="60",
                          **{"orderrepo.data_fields": '["delivery_address"]', **overrides})
    return Daemon(config, directory / "daemon.log")


def _listening_daemon(directory: Path, shop: WooCommerceSimulator, repo: OrderRepoSimulator, port: int) -> Daemon:
    """The daemon with its listener on ``port`` and the webhook secret the benchmarks sign with."""
    return _daemon(directory, shop, repo, **{"server.enabled": "true", "server.listen": f'"127.0.0.1:{port}"',
                                             "server.woocommerce_secret": f'"{SECRET}"'})


def delivered_latency(count: int = 30) -> dict[str, float]:
    """Orders created one by one with webhooks on; seconds until OrderRepo has each."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, WooCommerceSimulator() as shop, \
            OrderRepoSimulator(allowed_origins=("https://shop.example.com",)) as repo:
        daemon = _listening_daemon(Path(tmp), shop, repo, port)
        try:
            wait_until(lambda: _healthy(port), timeout=30)
            shop.webhooks.create(f"http://127.0.0.1:{port}/webhooks/woocommerce", "order.created", SECRET)
            seconds = []
            for index in range(count):
                started = time.perf_counter()
                shop.add_orders([make_order(5000 + index, created=datetime.now(UTC).replace(microsecond=0))])
                wait_until(lambda n=index + 1: len(repo.orders()) >= n, timeout=60, interval=0.01)
                seconds.append(time.perf_counter() - started)
        finally:
            daemon.stop()
    return {"orders": count, "p50_s": round(statistics.median(seconds), 3),
            "p99_s": round(percentile(seconds, 0.99), 3)}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def sweep_catches_silent_edits(count: int = 100, interval: int = 5) -> dict[str, int]:
    """No webhooks: 100 silent address edits; how many reach OrderRepo through the sweep within 3 intervals."""
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with tempfile.TemporaryDirectory() as tmp, WooCommerceSimulator() as shop, \
            OrderRepoSimulator(allowed_origins=("https://shop.example.com",)) as repo:
        shop.add_orders([make_order(7000 + index, created=created) for index in range(count)])
        daemon = _daemon(Path(tmp), shop, repo, **{"woocommerce.reconcile_interval_seconds": str(interval)})
        try:
            wait_until(lambda: len(repo.orders()) == count, timeout=120)
            for index in range(count):
                order = shop.get_order(7000 + index)
                shipping = {**order["shipping"], "address_1": f"House {index}, Road 12"}
                shop.edit_order(7000 + index, shipping=shipping, date_modified_gmt=order["date_modified_gmt"])
            wait_until(lambda: sum(o["update_requests"] for o in repo.orders()) >= count, timeout=interval * 3 + 30)
            updates = sum(o["update_requests"] for o in repo.orders())
        finally:
            daemon.stop()
    return {"edited": count, "updates_in_orderrepo": updates}


def reads_per_new_order(count: int = 20) -> dict[str, int]:
    """Each new order fires order.created, then order.updated 0.15 s later; order reads by the daemon."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, WooCommerceSimulator() as shop, \
            OrderRepoSimulator(allowed_origins=("https://shop.example.com",)) as repo:
        daemon = _listening_daemon(Path(tmp), shop, repo, port)
        try:  # well inside the 60 s poll interval: every read after the first poll is a hint's
            wait_until(lambda: _healthy(port), timeout=30)
            wait_until(lambda: _order_reads(shop) > 0, timeout=30)  # the first poll, at start
            time.sleep(1.0)
            for topic in ("order.created", "order.updated"):
                shop.webhooks.create(f"http://127.0.0.1:{port}/webhooks/woocommerce", topic, SECRET)
            before = _order_reads(shop)
            for index in range(count):
                shop.add_orders([make_order(9000 + index, created=datetime.now(UTC).replace(microsecond=0))])
                time.sleep(0.15)
                shop.webhooks.fire("order.updated", shop.get_order(9000 + index) or {})
                wait_until(lambda n=index + 1: len(repo.orders()) >= n, timeout=60, interval=0.01)
                time.sleep(0.6)  # both hints are handled before the next order
            reads = _order_reads(shop) - before
        finally:
            daemon.stop()
    return {"new_orders": count, "order_reads": reads, "in_orderrepo": len(repo.orders())}


def _order_reads(shop: WooCommerceSimulator) -> int:
    return sum(1 for entry in shop.request_log()
               if entry["method"] == "GET" and str(entry["route"]).endswith("/orders"))


def main() -> None:
    """Run the figures and print them as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=("flood", "latency", "sweep", "new_orders"))
    only = parser.parse_args().only
    if only in (None, "flood"):
        print(json.dumps({"listener_flood": listener_flood()}))
    if only in (None, "latency"):
        print(json.dumps({"created_to_delivered_with_webhooks": delivered_latency()}))
    if only in (None, "sweep"):
        print(json.dumps({"silent_edits_by_sweep": sweep_catches_silent_edits()}))
    if only in (None, "new_orders"):
        print(json.dumps({"reads_per_new_order": reads_per_new_order()}))


if __name__ == "__main__":
    main()
