"""`sync-daemon ledger migrate` and `ledger copy --to` as subprocesses, against a real PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid

import pytest

from sync_daemon.core.files import lock_state_directory
from sync_daemon.ledger import MIGRATIONS, SCHEMA_VERSION, SqliteLedger, open_postgres
from tests.conftest import POSTGRES_PASSWORD
from tests.contract.ledger import NOW, item, send_all

from .harness import cli_env, run_cli


def write_config(path, *, shop_path: str = "", **ledger: str):
    """A config with its own state directory and the given ``[ledger]`` keys (TOML strings)."""
    lines = [
        f'state_dir = "{path.parent / "state"}"',
        "[woocommerce]",
        f'url = "https://shop.example.com{shop_path}"',
        'consumer_key = "ck_0000000000000000000000000000000000000000"',
        'consumer_secret = "cs_0000000000000000000000000000000000000000"',
        "[ledger]",
        *(f'{key} = "{value}"' for key, value in ledger.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def env(**variables: str) -> dict[str, str]:
    return {**cli_env(), **variables}


def shop() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}.example"


def output(result) -> str:
    return result.stdout + result.stderr


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "config.toml")


@pytest.fixture
def sqlite_ledger(tmp_path):
    """A ledger in the config's state directory: two delivered orders, one pending, one left sending."""
    ledger = SqliteLedger.open(tmp_path / "state")
    ledger.ingest([item(1), item(2)], now=NOW)
    send_all(ledger, remote_id="R")
    ledger.ingest([item(3), item(4)], now=NOW)
    ledger.mark_sending(ledger.due("a", now=NOW, limit=1), now=NOW)
    ledger.set_meta(cursor="2026-11-20T10:00:00+00:00")
    summary = ledger.summary(now=NOW)
    ledger.close()
    return summary


# -- migrate ------------------------------------------------------------------------------


def test_migrate_upgrades_an_older_sqlite_ledger_and_says_from_which_version(tmp_path, config):
    path = tmp_path / "state" / "ledger.sqlite3"
    path.parent.mkdir()
    connection = sqlite3.connect(path)
    for version in range(1, SCHEMA_VERSION):
        connection.executescript(";\n".join(MIGRATIONS[version]))
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    connection.close()

    first = run_cli("ledger", "migrate", config=config)
    assert first.returncode == 0, output(first)
    assert first.stdout.strip() == f"ledger {path}: schema version {SCHEMA_VERSION - 1} → {SCHEMA_VERSION}"
    again = run_cli("ledger", "migrate", config=config)
    assert again.returncode == 0
    current = f"schema version {SCHEMA_VERSION} → {SCHEMA_VERSION} (already current)"
    assert again.stdout.strip() == f"ledger {path}: {current}"


def test_migrate_refuses_a_newer_sqlite_ledger(tmp_path, config):
    path = tmp_path / "state" / "ledger.sqlite3"
    path.parent.mkdir()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    result = run_cli("ledger", "migrate", config=config)
    assert result.returncode == 1
    assert "newer than this sync-daemon" in result.stderr and "Traceback" not in result.stderr


def test_migrate_creates_a_postgresql_ledger_then_finds_it_current(tmp_path, postgres_server, postgres_url):
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    with postgres_server.admin() as admin:
        admin.execute(f"CREATE DATABASE {name} OWNER sync_daemon")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    config = write_config(tmp_path / "config.toml", url=url, shop_id=shop())
    secret = env(SYNC_DAEMON_LEDGER__PASSWORD=POSTGRES_PASSWORD)
    created = run_cli("ledger", "migrate", config=config, env=secret)
    assert created.returncode == 0, output(created)
    assert f"/{name} (shop " in created.stdout and f"schema version 0 → {SCHEMA_VERSION} (new ledger)" in created.stdout
    again = run_cli("ledger", "migrate", config=config, env=secret)
    assert f"schema version {SCHEMA_VERSION} → {SCHEMA_VERSION} (already current)" in again.stdout
    assert POSTGRES_PASSWORD not in output(created) + output(again)


# -- copy ---------------------------------------------------------------------------------


def test_copy_moves_the_ledger_and_says_what_to_do_next(tmp_path, config, sqlite_ledger, postgres_url):
    target = shop()
    result = run_cli("ledger", "copy", "--to", postgres_url, "--shop-id", target, "--password-env", "LEDGER_PW",
                     config=config, env=env(LEDGER_PW=POSTGRES_PASSWORD))
    assert result.returncode == 0, output(result)
    assert POSTGRES_PASSWORD not in output(result)
    lines = result.stdout.splitlines()
    assert lines[0] == f"copying {tmp_path / 'state' / 'ledger.sqlite3'} into {postgres_url} (shop {target})"
    counts = dict(line.split() for line in lines[1:9])
    assert counts == {"meta": "1", "orders": "4", "deliveries": "4", "attempts": "2", "destinations": "1",
                      "tracking": "0", "writebacks": "0", "outbox": "2"}  # (the two receipts)
    assert lines[9] == f"copied 14 rows into {postgres_url} (shop {target}); every table's count matches the source"
    assert f'next: set [ledger] url = "{postgres_url}" and shop_id = "{target}" in the config' in lines[10]
    assert "restart" in lines[10]

    copied = open_postgres(postgres_url, shop_id=target, password=POSTGRES_PASSWORD)
    try:
        assert copied.summary(now=NOW) == sqlite_ledger
        assert copied.recover_interrupted(now=NOW) == 1  # the row left sending goes out again
        assert [d.order_id for d in copied.due("a", now=NOW, limit=10)] == [3, 4]
    finally:
        copied.close()
    lock_state_directory(tmp_path / "state").release()  # the copy gave the daemon's lock back


def test_copy_takes_the_password_and_the_shop_from_the_configuration(tmp_path, sqlite_ledger, postgres_url):
    path = f"/e2e-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "config.toml", shop_path=path)
    result = run_cli("ledger", "copy", "--to", postgres_url, config=config,
                     env=env(SYNC_DAEMON_LEDGER__PASSWORD=POSTGRES_PASSWORD))
    assert result.returncode == 0, output(result)
    assert POSTGRES_PASSWORD not in output(result) and "shop_id =" not in result.stdout  # the default shop
    copied = open_postgres(postgres_url, shop_id=f"shop.example.com{path}", password=POSTGRES_PASSWORD)
    try:
        assert copied.summary(now=NOW) == sqlite_ledger
    finally:
        copied.close()


def test_a_second_copy_into_the_same_shop_is_refused(config, sqlite_ledger, postgres_url):
    target = shop()
    arguments = ("ledger", "copy", "--to", postgres_url, "--shop-id", target, "--password-env", "LEDGER_PW")
    assert run_cli(*arguments, config=config, env=env(LEDGER_PW=POSTGRES_PASSWORD)).returncode == 0
    again = run_cli(*arguments, config=config, env=env(LEDGER_PW=POSTGRES_PASSWORD))
    assert again.returncode == 2
    assert "already holds data of this shop" in again.stderr and "nothing was changed" in again.stderr
    assert "Traceback" not in again.stderr
    copied = open_postgres(postgres_url, shop_id=target, password=POSTGRES_PASSWORD)
    try:
        assert copied.summary(now=NOW) == sqlite_ledger
    finally:
        copied.close()


def test_copy_refuses_while_a_daemon_holds_the_ledger(tmp_path, config, sqlite_ledger, postgres_url):
    target = shop()
    lock = lock_state_directory(tmp_path / "state")  # as `sync-daemon run` holds it
    try:
        result = run_cli("ledger", "copy", "--to", postgres_url, "--shop-id", target, config=config,
                         env=env(SYNC_DAEMON_LEDGER__PASSWORD=POSTGRES_PASSWORD))
    finally:
        lock.release()
    assert result.returncode == 2
    assert "copy needs the daemon stopped" in result.stderr and f"pid {os.getpid()}" in result.stderr
    untouched = open_postgres(postgres_url, shop_id=target, password=POSTGRES_PASSWORD)
    try:
        assert untouched.summary(now=NOW)["orders_seen"] == 0 and untouched.get_cursor() is None
    finally:
        untouched.close()


def test_copy_from_a_postgresql_ledger_refuses_while_a_daemon_beats_on_it(tmp_path, postgres_url):
    source = shop()
    ledger = open_postgres(postgres_url, shop_id=source, password=POSTGRES_PASSWORD)
    try:
        ledger.ingest([item(1)], now=NOW)
        ledger.daemon_started(now=time.time())
    finally:
        ledger.close()
    config = write_config(tmp_path / "config.toml", url=postgres_url, shop_id=source)
    result = run_cli("ledger", "copy", "--to", postgres_url, "--shop-id", shop(), config=config,
                     env=env(SYNC_DAEMON_LEDGER__PASSWORD=POSTGRES_PASSWORD))
    assert result.returncode == 2
    assert f"copy needs every daemon of {postgres_url} (shop {source}) stopped: 1 still running" in result.stderr


def test_a_wrong_password_is_one_line_without_it(config, sqlite_ledger, postgres_url):
    result = run_cli("ledger", "copy", "--to", postgres_url, "--shop-id", shop(), config=config,
                     env=env(SYNC_DAEMON_LEDGER__PASSWORD="wrong-password-4711"))
    assert result.returncode == 2
    assert "refused the login" in result.stderr and "wrong-password-4711" not in output(result)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["user", "query"])
def test_a_password_in_the_url_is_refused_without_echoing_it(where, config, sqlite_ledger, postgres_url):
    user, rest = postgres_url.removeprefix("postgresql://").split("@", 1)
    url = (f"postgresql://{user}:in-url-secret-42@{rest}" if where == "user"
           else f"{postgres_url}?password=in-url-secret-42")
    result = run_cli("ledger", "copy", "--to", url, "--shop-id", shop(), config=config)
    assert result.returncode == 2
    assert "holds a password" in result.stderr and "in-url-secret-42" not in output(result)


def test_copy_without_a_ledger_says_there_is_none(tmp_path, config, postgres_url):
    result = run_cli("ledger", "copy", "--to", postgres_url, "--shop-id", shop(), config=config,
                     env=env(SYNC_DAEMON_LEDGER__PASSWORD=POSTGRES_PASSWORD))
    assert result.returncode == 2
    assert f"there is no ledger in {tmp_path / 'state'}" in result.stderr
