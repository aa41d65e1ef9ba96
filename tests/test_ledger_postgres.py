"""The PostgreSQL ledger against a real server: the shared contract, shops kept apart, leases, leadership."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from sync_daemon.core.errors import ConfigurationError, LedgerUnavailable
from sync_daemon.ledger import SCHEMA_VERSION, open_postgres
from tests.conftest import POSTGRES_PASSWORD
from tests.contract.ledger import NOW, LedgerContract, item, send_all, state

_shops = itertools.count(1)


def new_shop() -> str:
    """A shop name no other test uses: every test gets an empty ledger in the one database."""
    return f"shop-{next(_shops)}.example"


class TestPostgresLedger(LedgerContract):
    @pytest.fixture
    def make_ledger(self, postgres_url):
        """Opens this test's shop in the shared database (the same shop at every call)."""
        shop = new_shop()
        return lambda: open_postgres(postgres_url, shop_id=shop, password=POSTGRES_PASSWORD)


@pytest.fixture
def shop_ledger(postgres_url):
    opened = []

    def make(shop=None, **options):
        ledger = open_postgres(postgres_url, shop_id=shop or new_shop(), password=POSTGRES_PASSWORD, **options)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


def test_two_shops_in_one_database_never_see_each_other(shop_ledger):
    first, second = shop_ledger(), shop_ledger()
    first.ingest([item(7)], now=NOW)
    first.set_meta(cursor="2026-11-20T10:00:00+00:00")
    assert second.delivery(7, "a") is None
    assert second.get_cursor() is None
    assert second.due("a", now=NOW, limit=10) == []
    second.ingest([item(7, payload={"other": True})], now=NOW)  # the same order id, another shop
    send_all(second)
    assert state(first, 7) == "pending" and state(second, 7) == "delivered"
    assert first.summary()["orders_seen"] == 1


def test_the_outbox_of_receipts_and_notes_is_one_shops_too(shop_ledger):
    first, second = shop_ledger(), shop_ledger()
    for ledger in (first, second):
        ledger.ingest([item(7)], now=NOW)  # the same order id in both shops
    send_all(first, remote_id="305")
    assert second.unwritten(("receipt",), orders=10) == []
    second.outbox_written(first.unwritten(("receipt",), orders=10), now=NOW)  # the other shop's key: no row
    assert [(e.order_id, e.remote_id) for e in first.unwritten(("receipt",), orders=10)] == [(7, "305")]
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
    with refused, second.transaction() as connection:
        connection.execute("INSERT INTO outbox (shop_id, order_id, destination, kind, at)"
                           " VALUES ('someone-else', 1, 'a', 'receipt', 'now')")


def test_a_row_is_leased_to_one_daemon_until_its_lease_ends(shop_ledger):
    shop = new_shop()
    one, other = shop_ledger(shop, lease_seconds=60), shop_ledger(shop, lease_seconds=60)
    one.ingest([item(1), item(2)], now=NOW)
    taken = one.due("a", now=NOW, limit=1)
    assert [d.order_id for d in taken] == [1]
    assert [d.order_id for d in other.due("a", now=NOW, limit=10)] == [2]  # 1 is leased to the first
    assert other.due("a", now=NOW + 30, limit=10)[0].order_id == 2  # its own lease it keeps
    assert [d.order_id for d in other.due("a", now=NOW + 61, limit=10)] == [1, 2]  # the first's ended


def test_a_row_taken_over_is_lost_to_the_daemon_that_held_it(shop_ledger):
    shop = new_shop()
    one, other = shop_ledger(shop, lease_seconds=60), shop_ledger(shop, lease_seconds=60)
    one.ingest([item(1)], now=NOW)
    held = one.due("a", now=NOW, limit=1)
    later = NOW + 61
    taken = other.due("a", now=later, limit=1)
    assert other.mark_sending(taken, now=later) == []
    assert one.mark_sending(held, now=later) == held  # not sent: the other daemon has it out
    assert one.delivery(1, "a")["leased_by"] == other.owner


def test_an_edited_order_is_not_sent_with_the_payload_read_before(shop_ledger):
    ledger = shop_ledger()
    ledger.ingest([item(1)], now=NOW)
    held = ledger.due("a", now=NOW, limit=1)
    ledger.ingest([item(1, modified="later", payload={"id": "1", "total": 200})], now=NOW)
    assert ledger.mark_sending(held, now=NOW) == held
    fresh = ledger.due("a", now=NOW, limit=1)
    assert fresh[0].payload["total"] == 200 and ledger.mark_sending(fresh, now=NOW) == []


def test_only_expired_sending_rows_are_recovered_on_a_shared_ledger(shop_ledger):
    shop = new_shop()
    alive, starting = shop_ledger(shop, lease_seconds=60), shop_ledger(shop, lease_seconds=60)
    alive.ingest([item(1)], now=NOW)
    alive.mark_sending(alive.due("a", now=NOW, limit=1), now=NOW)
    assert starting.recover_interrupted(now=NOW + 10) == 0  # a request of a live daemon is out
    assert state(alive) == "sending"
    assert starting.recover_interrupted(now=NOW + 61) == 1  # its daemon died: sent again
    assert state(alive) == "retrying"


def test_one_leader_per_shop_and_the_lead_passes_when_it_closes(shop_ledger):
    shop = new_shop()
    first, second, elsewhere = shop_ledger(shop), shop_ledger(shop), shop_ledger()
    assert first.try_lead() is True
    assert second.try_lead() is False
    assert first.try_lead() is True  # kept
    assert elsewhere.try_lead() is True  # another shop leads on its own
    first.close()
    assert second.try_lead() is True


def test_the_daemons_of_a_ledger_are_listed_with_their_lead(shop_ledger):
    shop = new_shop()
    first, second = shop_ledger(shop), shop_ledger(shop)
    first.daemon_started(now=NOW)
    second.daemon_started(now=NOW)
    first.daemon_heartbeat(now=NOW + 5, leads=True, interval=5)
    listed = {row["daemon_id"]: row for row in second.daemons(now=NOW + 6, interval=5)}
    assert listed[first.owner]["leads"] is True and listed[second.owner]["leads"] is False
    assert list(second.daemons(now=NOW + 60, interval=5)) == []  # none beat for 12 intervals
    second.daemon_stopped()
    assert [row["daemon_id"] for row in first.daemons(now=NOW + 6, interval=5)] == [first.owner]


def test_the_schema_version_is_the_same_as_sqlite(shop_ledger):
    assert shop_ledger().schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused_saying_which(postgres_server, postgres_url):
    with postgres_server.admin() as admin:
        admin.execute("CREATE DATABASE newer_schema OWNER sync_daemon")
    url = postgres_url.rsplit("/", 1)[0] + "/newer_schema"
    open_postgres(url, shop_id="x", password=POSTGRES_PASSWORD).close()  # created at this version
    with psycopg.connect(url, password=POSTGRES_PASSWORD, autocommit=True) as raw:
        raw.execute("UPDATE sync_daemon_schema SET version = %s", [SCHEMA_VERSION + 1])
    with pytest.raises(ConfigurationError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this sync-daemon"):
        open_postgres(url, shop_id="x", password=POSTGRES_PASSWORD)


def test_a_wrong_password_is_one_clear_line_without_the_password(postgres_url):
    with pytest.raises(ConfigurationError) as raised:
        open_postgres(postgres_url, shop_id="x", password="not-the-password-123")
    message = str(raised.value)
    assert "refused the login" in message and "not-the-password-123" not in message
    assert "\n" not in message


def test_a_superuser_is_refused_because_it_would_see_every_shop(postgres_server):
    url = f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
    from tests.postgres_server import SUPERUSER_PASSWORD

    with pytest.raises(ConfigurationError, match="superuser or bypasses row-level security"):
        open_postgres(url, shop_id="x", password=SUPERUSER_PASSWORD)


def test_a_server_that_is_down_is_a_temporary_error():
    from tests.postgres_server import free_port

    with pytest.raises(LedgerUnavailable, match="unreachable"):
        open_postgres(f"postgresql://sync@127.0.0.1:{free_port()}/sync", shop_id="x", password="p")


def test_a_clean_stop_gives_back_the_rows_taken_but_not_sent(shop_ledger):
    shop = new_shop()
    stopping, other = shop_ledger(shop, lease_seconds=60), shop_ledger(shop, lease_seconds=60)
    stopping.ingest([item(1), item(2)], now=NOW)
    taken = stopping.due("a", now=NOW, limit=2)
    stopping.mark_sending(taken[:1], now=NOW)  # 1 is out, its answer unknown: it keeps its lease
    stopping.daemon_started(now=NOW)
    assert other.due("a", now=NOW + 1, limit=10) == []
    stopping.daemon_stopped()
    assert [d.order_id for d in other.due("a", now=NOW + 1, limit=10)] == [2]  # not left waiting 60 s
    assert state(stopping, 1) == "sending" and other.recover_interrupted(now=NOW + 1) == 0


def test_the_destinations_health_rows_are_locked_in_one_order_so_daemons_never_deadlock(
    shop_ledger, postgres_url
):
    """A daemon's record() writes the health rows of both destinations; another transaction (a second
    daemon's) locks them in name order, as record() does: it waits instead of deadlocking."""
    import threading

    from sync_daemon.core.outcome import Outcome
    from tests.contract.ledger import POLICY

    shop = new_shop()
    ledger = shop_ledger(shop)
    ledger.ingest([item(1, dest="a"), item(1, dest="b")], now=NOW)
    send_all(ledger, "a", now=NOW)
    send_all(ledger, "b", now=NOW)  # both health rows exist now
    ledger.ingest([item(2, dest="a"), item(2, dest="b")], now=NOW)
    rows = {dest: ledger.due(dest, now=NOW, limit=1)[0] for dest in ("a", "b")}
    ledger.mark_sending(list(rows.values()), now=NOW)
    outcomes = [  # b delivered, a to be retried: before the fix, b's row was locked first
        Outcome(2, "b", "delivered", "create", payload_hash=rows["b"].payload_hash),
        POLICY.stamp(Outcome(2, "a", "retry", "create", payload_hash=rows["a"].payload_hash, message="HTTP 503"),
                     attempts_before=0),
    ]
    other = psycopg.connect(postgres_url, password=POSTGRES_PASSWORD, autocommit=True)
    errors = []
    try:
        other.execute("SELECT set_config('sync_daemon.shop_id', %s, false)", [shop])
        other.execute("BEGIN")
        other.execute("UPDATE destinations SET last_error = 'held' WHERE name = 'a'")
        worker = threading.Thread(target=lambda: _catch(errors, ledger.record, outcomes, now=NOW + 1))
        worker.start()
        worker.join(timeout=1.5)  # record() now waits for a's row (beyond deadlock_timeout, 1 s)
        other.execute("UPDATE destinations SET last_error = 'held' WHERE name = 'b'")
        other.execute("COMMIT")
        worker.join(timeout=10)
    finally:
        other.close()
    assert errors == [] and not worker.is_alive()
    assert state(ledger, 2, "b") == "delivered" and state(ledger, 2, "a") == "retrying"


def _catch(errors, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - handed to the test
        errors.append(error)


# -- parsing: placeholders outside literals, login refusals by code ---------------------------------


def test_a_question_mark_or_percent_inside_a_literal_is_text_not_a_placeholder(shop_ledger):
    from sync_daemon.ledger.postgres import translate

    sql = "SELECT 'is it?', 'it''s 100%?', \"?\" FROM t WHERE a = ? AND b LIKE 'x%' ON CONFLICT (k) DO NOTHING"
    assert translate(sql) == (
        "SELECT 'is it?', 'it''s 100%%?', \"?\" FROM t WHERE a = %s AND b LIKE 'x%%'"
        " ON CONFLICT (shop_id, k) DO NOTHING"
    )
    ledger = shop_ledger()
    row = ledger._fetch("SELECT 'is it?', 'it''s 100%?', ?::text, 'ON CONFLICT (x)'", ["yes"])  # the real server
    assert row == [("is it?", "it's 100%?", "yes", "ON CONFLICT (x)")]


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (psycopg.errors.InvalidPassword("Passwort-Authentifizierung fehlgeschlagen"), True),  # 28P01
        (psycopg.errors.InvalidAuthorizationSpecification("keine Zeile in pg_hba.conf"), True),  # 28000
        (psycopg.errors.InvalidCatalogName("Datenbank existiert nicht"), True),  # 3D000
        (psycopg.errors.CannotConnectNow("the database system is starting up"), False),  # 57P03
        # English text that once decided it, with no code and no exchange with a server: unreachable.
        (psycopg.OperationalError('password authentication failed for user "sync"'), False),
    ],
)
def test_a_refused_login_is_told_by_its_code_never_by_the_message(error, refused):
    from sync_daemon.ledger.postgres import _login_refused

    assert _login_refused(error) is refused


def test_a_missing_database_is_a_refused_login_not_an_outage(postgres_url):
    with pytest.raises(ConfigurationError, match="refused the login"):
        open_postgres(postgres_url.rsplit("/", 1)[0] + "/no_such_database", shop_id="x", password=POSTGRES_PASSWORD)
