"""Copying a ledger into another (SQLite into a real PostgreSQL): everything arrives, or nothing does."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from sync_daemon.core.errors import LedgerUnavailable
from sync_daemon.core.outcome import IngestItem, Mapped, Outcome
from sync_daemon.ledger import SqliteLedger, open_postgres
from sync_daemon.ledger.copy import TABLE_KEYS, CopyFailed, TargetNotEmpty, copy_ledger
from tests.conftest import POSTGRES_PASSWORD
from tests.contract.ledger import NOW, POLICY, item

DESTINATIONS = ("a", "b")
# Order id → what becomes of its row for destination "a" ("b" is delivered for every order).
STATES = {1: "pending", 2: "sending", 3: "delivered", 4: "retrying", 5: "rejected", 6: "dead", 7: "skipped"}
CURSOR = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FAR = NOW + 10 * 86400.0  # when everything waiting is due

_shops = itertools.count(1)


def new_shop() -> str:
    """A shop of its own in the shared database: an empty ledger for each test."""
    return f"copy-{next(_shops)}.example"


def send(ledger, order_id, dest, kind, **fields):
    """Take one order's due row and record one outcome for it, as the engine does."""
    due = [d for d in ledger.due(dest, now=NOW, limit=100) if d.order_id == order_id]
    ledger.mark_sending(due, now=NOW)
    if kind != "sending":  # a crash between the mark and the answer: the row stays ``sending``
        outcomes = [Outcome(d.order_id, dest, kind, d.operation, payload_hash=d.payload_hash, **fields) for d in due]
        ledger.record([POLICY.stamp(o, attempts_before=d.attempts) for o, d in zip(outcomes, due, strict=True)],
                      now=NOW)


def fill(ledger) -> None:
    """Orders in every state, attempts, a pause and fingerprints, tracking, write-backs, the cursor."""
    for order_id, wanted in STATES.items():
        rows = [Mapped("a", {"id": str(order_id), "total": 100 + order_id}), Mapped("b", {"id": str(order_id)})]
        if wanted == "skipped":
            rows[0] = Mapped("a", None, rejection="no click id", skipped=True)
        ledger.ingest([IngestItem(order_id, f"#{order_id}", f"m{order_id}", "processing", rows,
                                  tracking_id=f"T-{order_id}" if order_id % 2 else None)], now=NOW)
        send(ledger, order_id, "b", "delivered", remote_id=f"B-{order_id}")
    send(ledger, 2, "a", "sending")
    send(ledger, 3, "a", "delivered", remote_id="A-3")
    send(ledger, 4, "a", "retry", message="HTTP 503", http_status=503)
    send(ledger, 5, "a", "rejected", message="HTTP 422: phone", http_status=422)
    send(ledger, 6, "a", "retry", message="odd answer", max_attempts=1)
    assert {n: ledger.delivery(n, "a")["state"] for n in STATES} == STATES
    ledger.update_remote_statuses("b", [(3, "shipped", None)], now=NOW)
    ledger.note_fingerprint("a", "fp-a", now=NOW)
    ledger.note_fingerprint("b", "fp-b", now=NOW)
    ledger.pause_destination("a", kind="auth", reason="HTTP 401", until=FAR, now=NOW)
    ledger.record_tracking(3, shipment_status="in_transit", exception_status="delayed", carrier="Pathao",
                           tracking_number="PX3", done=False, now=NOW)
    ledger.record_writeback(3, [{"source": "b", "remote_status": "shipped", "action": "status processing → completed",
                                 "status_before": "processing", "status_after": "completed"},
                                {"source": "t", "remote_status": "in_transit", "action": "nothing to do"},
                                {"source": "t", "remote_status": "exception:delayed", "action": "note"}],
                            written_status="completed", now=NOW)
    ledger.record_writeback(5, [{"source": "t", "remote_status": "in_transit", "action": "note"}],
                            written_status=None, now=NOW)
    ledger.set_cursor(CURSOR)
    ledger.set_meta(last_poll_at="2026-11-20T10:01:00+00:00", last_poll_result="ok")
    ledger.daemon_started(now=NOW)  # who runs on a ledger is not copied


def everything(ledger) -> dict:
    """What the daemon and ``status`` read from a ledger."""
    return {
        "summary": ledger.summary(now=NOW),
        "cursor": ledger.get_cursor(),
        "histories": {n: ledger.order_history(n) for n in STATES},
        "deliveries": {(n, d): ledger.delivery(n, d) for n in STATES for d in DESTINATIONS},
        "destinations": {d: ledger.destination(d) for d in DESTINATIONS},
    }


def table_counts(ledger) -> dict[str, int]:
    return {table: ledger._fetch(f"SELECT COUNT(*) FROM {table}")[0][0] for table in (*TABLE_KEYS, "daemons")}


@pytest.fixture
def source(tmp_path):
    ledger = SqliteLedger.open(tmp_path / "source")
    yield ledger
    ledger.close()


@pytest.fixture
def postgres(postgres_url):
    """Opens a shop's ledger in the test database (a new shop unless one is named); closes them all after."""
    opened = []

    def make(shop=None):
        ledger = open_postgres(postgres_url, shop_id=shop or new_shop(), password=POSTGRES_PASSWORD)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture(params=["postgresql", "sqlite"])
def target(request, tmp_path):
    """An empty ledger of each backend (the copy names neither)."""
    if request.param == "sqlite":
        ledger = SqliteLedger.open(tmp_path / "target")
        yield ledger
        ledger.close()
    else:
        yield request.getfixturevalue("postgres")()


def test_the_copy_reads_back_as_the_source_in_every_state(source, target):
    fill(source)
    counts = copy_ledger(source, target, batch_rows=2)  # many batches: keys of one and of three columns
    assert counts == {table: count for table, count in table_counts(source).items() if table != "daemons"}
    assert counts["orders"] == 7 and counts["deliveries"] == 14 and counts["attempts"] == 11
    assert counts["writebacks"] == 4 and counts["tracking"] == 4 and counts["meta"] == 3
    assert table_counts(target)["daemons"] == 0
    assert everything(target) == everything(source)
    for dest in DESTINATIONS:
        assert target.due(dest, now=FAR, limit=100) == source.due(dest, now=FAR, limit=100)
    assert target.next_due_at("a") == source.next_due_at("a")
    assert target.writeback_candidates(delivery_sources=["b"], tracking_sources=["t"]) == \
        source.writeback_candidates(delivery_sources=["b"], tracking_sources=["t"])


def test_a_row_left_sending_is_sent_again_after_the_next_start_and_nothing_else_is(source, postgres):
    fill(source)
    target = postgres()
    copy_ledger(source, target)
    assert target.delivery(2, "a")["state"] == "sending"
    assert [d.order_id for d in target.due("a", now=FAR, limit=100)] == [1, 4]  # 2 waits for the next start
    assert target.recover_interrupted(now=NOW + 1) == source.recover_interrupted(now=NOW + 1) == 1
    assert target.due("a", now=FAR, limit=100) == source.due("a", now=FAR, limit=100)
    assert [d.order_id for d in target.due("a", now=FAR, limit=100)] == [1, 2, 4]
    assert target.due("b", now=FAR, limit=100) == []  # delivered stays delivered
    delivered = target.delivery(3, "a")
    assert (delivered["state"], delivered["remote_id"]) == ("delivered", "A-3")
    assert delivered["delivered_hash"] == delivered["payload_hash"] == source.delivery(3, "a")["delivered_hash"]


def test_new_attempts_on_the_target_follow_the_copied_ones(source, postgres):
    fill(source)
    target = postgres()
    copy_ledger(source, target)
    send(target, 1, "a", "delivered", remote_id="A-1")  # the target numbers its attempts after the copied ones
    attempts = target.order_history(1)["attempts"]
    assert [(a["destination"], a["outcome"]) for a in attempts] == [("b", "delivered"), ("a", "delivered")]


def test_a_second_copy_into_the_same_shop_is_refused_and_changes_nothing(source, postgres, tmp_path):
    fill(source)
    shop = new_shop()
    target = postgres(shop)
    copy_ledger(source, target)
    before = everything(target)
    other = SqliteLedger.open(tmp_path / "other")
    other.ingest([item(99)], now=NOW)
    with pytest.raises(TargetNotEmpty, match=r"already holds data of this shop \(meta 3, orders 7.*never merges"):
        copy_ledger(other, postgres(shop))
    other.close()
    assert everything(postgres(shop)) == before
    assert postgres(shop).order_history(99) is None


def test_a_shop_with_only_meta_is_not_empty(source, postgres):
    source.ingest([item(1)], now=NOW)
    target = postgres()
    target.set_cursor(CURSOR)
    with pytest.raises(TargetNotEmpty, match=r"\(meta 1\)"):
        copy_ledger(source, target)
    assert target.order_history(1) is None


def test_a_row_the_target_refuses_midway_leaves_it_empty(source, postgres):
    fill(source)
    source.ingest([item(n) for n in range(100, 140)], now=NOW)
    # SQLite keeps any value in any column; PostgreSQL refuses this one, in the sixth table copied.
    with source.transaction() as connection:
        connection.execute("UPDATE tracking SET first_seen_at = 'yesterday' WHERE order_id = 5")
    shop = new_shop()
    seen = []
    with pytest.raises(CopyFailed, match=r"copying tracking failed.*rolled back, nothing was written") as raised:
        copy_ledger(source, postgres(shop), batch_rows=10, on_batch=lambda table, copied: seen.append(table))
    assert "deliveries" in seen and "yesterday" in str(raised.value)
    assert set(table_counts(postgres(shop)).values()) == {0}
    with source.transaction() as connection:
        connection.execute("UPDATE tracking SET first_seen_at = ? WHERE order_id = 5", [NOW])
    assert copy_ledger(source, postgres(shop))["orders"] == 47  # nothing was left behind in the way


def test_a_target_lost_midway_keeps_nothing(source, postgres, postgres_server):
    fill(source)
    shop = new_shop()
    target = postgres(shop)

    def cut_off(table, copied):
        if table == "attempts":  # the copy's connection dies with half the tables written
            with postgres_server.admin() as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE state = 'idle in transaction' AND application_name = 'sync-daemon'"
                )

    with pytest.raises(LedgerUnavailable, match="rolled back, nothing was written"):
        copy_ledger(source, target, batch_rows=5, on_batch=cut_off)
    assert set(table_counts(postgres(shop)).values()) == {0}
    assert copy_ledger(source, target)["orders"] == 7  # the pool replaced the connection that died


def test_leases_of_the_source_daemons_are_not_copied(postgres):
    source, target = postgres(), postgres()
    source.ingest([item(1), item(2)], now=NOW)
    taken = source.due("a", now=NOW, limit=2)  # both leased to this daemon, 1 sent
    source.mark_sending(taken[:1], now=NOW)
    assert source.delivery(2, "a")["leased_by"] == source.owner
    copy_ledger(source, target)
    assert [target.delivery(n, "a")["leased_by"] for n in (1, 2)] == [None, None]
    # The source's daemon never runs on the target: its rows are not waited for until the lease ends.
    assert source.recover_interrupted(now=NOW) == 0 and target.recover_interrupted(now=NOW) == 1
    assert [d.order_id for d in target.due("a", now=NOW, limit=10)] == [1, 2]
