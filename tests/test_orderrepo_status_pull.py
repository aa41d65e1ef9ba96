"""OrderRepo's status pull: one listing of every status; a batch stored unchanged is not written again."""

from __future__ import annotations

import threading

import pytest

from sync_daemon.config import Settings
from sync_daemon.core.urls import origin_of
from sync_daemon.platforms import ShopContext
from sync_daemon.platforms.orderrepo import OrderRepoDestination, OrderRepoStatuses
from sync_daemon.platforms.orderrepo.statuses import FULL_PULL_EVERY
from sync_daemon.simulators.orderrepo import OrderRepoSimulator

ORIGIN = "https://shop.example.com"


class Store:
    """The ledger's side of a pull: what was written, batch by batch."""

    def __init__(self) -> None:
        self.writes: list[list[tuple[int, str, str | None]]] = []

    def update_remote_statuses(self, destination, rows, *, now):
        self.writes.append(list(rows))
        return 0


@pytest.fixture
def repo():
    with OrderRepoSimulator(allowed_origins=(ORIGIN,)) as simulator:
        yield simulator


def reader_for(repo, orders=3):
    settings = Settings.model_validate({
        "woocommerce": {"url": ORIGIN, "consumer_key": "ck_x", "consumer_secret": "cs_x"},
        "orderrepo": {"enabled": True, "base_url": repo.url, "api_key": repo.api_key},
    })
    shop = ShopContext(url=ORIGIN, origin=origin_of(ORIGIN))
    destination = OrderRepoDestination(settings.orderrepo, shop)
    for number in range(1, orders + 1):
        destination.push({"id": str(number), "total": 100, "currency": "BDT"}, operation="create")
    destination.close()
    return OrderRepoStatuses(settings.orderrepo, shop)


def pull(reader, store):
    return reader.pull(store, now=0.0, stop=threading.Event(), progress=lambda: None)


def test_one_listing_reads_every_status(repo):
    reader = reader_for(repo, orders=150)
    repo.set_order_status("2", "done")
    repo.set_order_status("3", "cancelled")
    statuses = {order_id: status for order_id, status, _ in reader.rows()}
    assert len(statuses) == 150 and statuses[2] == "done" and statuses[3] == "cancelled" and statuses[1] == "new"
    lists = [entry for entry in repo.stats()["by_route"].items() if entry[0] == "GET /api/external/orders"]
    assert lists == [("GET /api/external/orders", 2)]  # 150 orders: two pages, whatever their statuses


def test_an_unchanged_list_is_not_written_again_until_the_full_pull(repo):
    reader, store = reader_for(repo), Store()
    pull(reader, store)
    assert [len(batch) for batch in store.writes] == [3]
    pull(reader, store)
    assert len(store.writes) == 1  # the same rows as stored: nothing written
    repo.set_order_status("2", "processing")
    pull(reader, store)
    assert len(store.writes) == 2 and (2, "processing") in [(row[0], row[1]) for row in store.writes[-1]]
    for _ in range(FULL_PULL_EVERY):
        pull(reader, store)
    assert len(store.writes) == 3  # the full pull wrote the unchanged list once more


def test_after_a_failed_pull_the_next_one_writes_everything(repo):
    reader, store = reader_for(repo), Store()
    pull(reader, store)
    repo.add_fault("status", status=503, count=1)
    pull(reader, store)  # failed: what was read (nothing) is stored
    writes = len(store.writes)
    pull(reader, store)
    assert len(store.writes) == writes + 1 and len(store.writes[-1]) == 3
