"""kill -9 between a platform's confirmation and the ledger's commit: what is sent again after restart.

Each platform confirms the first orders at once and then answers slowly, so the kill falls after
confirmations came back, while requests are out (or their answers are on the way). Every outcome is
committed as it comes back, before its worker thread sends anything else: after the restart, the
only orders a platform is asked for again are those whose request was out at the kill — marked
``sending``, at most ``concurrency`` per platform — and never one whose confirmation the ledger had.
Counted on the platforms' side (create requests per order), whatever the exact moment of the kill.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from sync_daemon.simulators.orders import generate_orders

from .harness import Daemon, wait_until, write_config

ORDERS = 60
QUICK = 12  # answered at once, before the slow answers begin
SLOW_SECONDS = 2.0  # every later answer: the requests out at the kill are still waiting for theirs
CONCURRENCY = 4  # the platforms' default
CREATE_PATHS = {"gotrack": "/api/v1/orders", "orderrepo": "/api/orders/track"}


def create_requests(gotrack, orderrepo) -> dict[str, Counter[int]]:
    """Create requests each platform received, per WooCommerce order id."""
    return {
        "gotrack": Counter(
            {int(label.split(":", 1)[1]): count for label, count in gotrack.requests_by_external_id().items()}
        ),
        "orderrepo": Counter({int(key): counts["track"] for key, counts in orderrepo.requests_by_id().items()}),
    }


def sending_rows(state_dir) -> dict[str, set[int]]:
    """The rows the ledger has marked 'sending' (read-only, as the daemon left them)."""
    with sqlite3.connect(f"file:{state_dir / 'ledger.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT destination, order_id FROM deliveries WHERE state = 'sending'").fetchall()
    found: dict[str, set[int]] = {name: set() for name in CREATE_PATHS}
    for destination, order_id in rows:
        found[destination].add(order_id)
    return found


def delivered_rows(state_dir) -> int:
    with sqlite3.connect(f"file:{state_dir / 'ledger.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'").fetchone()[0]


def test_after_kill_9_only_the_requests_in_flight_are_sent_again(tmp_path, woocommerce, gotrack, orderrepo):
    woocommerce.add_orders(generate_orders(ORDERS, seed=9, start_id=3000))
    platforms = {"gotrack": gotrack, "orderrepo": orderrepo}
    for name, simulator in platforms.items():
        simulator.add_fault("slow", delay=0, count=QUICK, path=CREATE_PATHS[name])
        simulator.add_fault("slow", delay=SLOW_SECONDS, path=CREATE_PATHS[name])
    config = write_config(tmp_path / "config.toml", woocommerce, gotrack, orderrepo)
    state_dir = tmp_path / "state"

    daemon = Daemon(config, tmp_path / "daemon-1.log")
    try:
        assert wait_until(lambda: all(len(sim.orders()) >= QUICK for sim in platforms.values()), timeout=60)
    finally:
        daemon.kill()
    confirmed = {name: {int(str(o.get("external_order_id") or o.get("external_id"))) for o in sim.orders()}
                 for name, sim in platforms.items()}
    out_at_kill = sending_rows(state_dir)
    held_back = {name: sim.faults()[0]["fired"] for name, sim in platforms.items()}  # slow answers still due
    for simulator in platforms.values():
        simulator.clear_faults()

    daemon = Daemon(config, tmp_path / "daemon-2.log")
    try:
        assert wait_until(lambda: delivered_rows(state_dir) == 2 * ORDERS, timeout=60)
    finally:
        assert daemon.stop() == 0
    # The requests the killed daemon left waiting get their (slow) answers too before counting.
    assert wait_until(
        lambda: all(sim.stats()["faults"].get("slow", 0) == QUICK + held_back[name] for name, sim in platforms.items()),
        timeout=SLOW_SECONDS * 5,
    )

    requests = create_requests(gotrack, orderrepo)
    for name, simulator in platforms.items():
        sent_again = {order_id for order_id, count in requests[name].items() if count > 1}
        assert len(out_at_kill[name]) <= CONCURRENCY, (name, out_at_kill[name])
        assert sent_again <= out_at_kill[name], (name, sent_again, out_at_kill[name])
        assert not sent_again & (confirmed[name] - out_at_kill[name])  # nothing already confirmed went again
        held = Counter(int(str(o.get("external_order_id") or o.get("external_id"))) for o in simulator.orders())
        assert len(held) == ORDERS and set(held.values()) == {1}, name
