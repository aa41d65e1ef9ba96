"""`sync-daemon run` on a PostgreSQL ledger, as a subprocess: bad input, a server that goes away, two daemons.

- PostgreSQL not there at start: exit 75 (systemd restarts it), one line naming host:port, no traceback.
- A wrong password: exit 2 (a configuration error), one line, the password nowhere in the output.
- The server restarted while the daemon delivers: it reconnects by itself; every order lands once.
- Two daemons of one shop on one state directory: neither refuses (SQLite's one-daemon lock is not
  taken on a shared ledger); one leads; ``status`` works beside them.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from sync_daemon.simulators.orders import generate_orders, make_order
from tests.conftest import POSTGRES_PASSWORD
from tests.postgres_server import free_port, server_binaries, start_server

from .harness import Daemon, cli_env, run_cli, wait_until, write_config

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(server_binaries() is None, reason="PostgreSQL server binaries not found"),
]

PASSWORD_VARIABLE = "SYNC_DAEMON_LEDGER__PASSWORD"


def env(password: str = POSTGRES_PASSWORD) -> dict[str, str]:
    return {**cli_env(), PASSWORD_VARIABLE: password}


def postgres_config(path: Path, woocommerce, gotrack, url: str, **overrides: str) -> Path:
    """The harness's config with a PostgreSQL ledger: short leases and lead checks, so a test sees them."""
    return write_config(
        path,
        woocommerce,
        gotrack,
        **{
            "ledger.url": f'"{url}"',
            "ledger.shop_id": '"e2e.example.com"',
            "ledger.lease_seconds": "14",  # the least a 2 s platform timeout allows (2 × 2 + 10)
            "gotrack.timeout_seconds": "2",
            "ledger.leader_check_seconds": "1",
            **overrides,
        },
    )


def events(daemon: Daemon, prefix: str) -> list[dict]:
    return [line for line in daemon.log_lines() if str(line.get("event", "")).startswith(prefix)]


def started(daemon: Daemon) -> bool:
    return bool(events(daemon, "sync-daemon started"))


def leads(daemon: Daemon) -> bool:
    """Whether the daemon leads now, by its log."""
    leading = False
    for line in daemon.log_lines():
        text = str(line.get("event", ""))
        if text == "sync-daemon started":
            leading = bool(line.get("leads"))
        elif text.startswith("took the lead"):
            leading = True
        elif text.startswith(("lost the lead", "the shared ledger cannot be reached")):
            leading = False
    return leading


def held_once(gotrack, order_ids) -> bool:
    """GoTrack holds each of these orders exactly once, and nothing else."""
    held = [stored["external_order_id"] for stored in gotrack.orders()]
    return sorted(held) == sorted(str(order_id) for order_id in order_ids)


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {state: count for state, count in counts.items() if count}


def final_counts(config: Path) -> dict[str, int]:
    """GoTrack's rows by state (those with any), as ``sync-daemon status --json`` shows them."""
    result = run_cli("status", "--json", config=config, env=env())
    assert result.returncode == 0, result.stderr
    return nonzero(json.loads(result.stdout)["counts"]["gotrack"])


@pytest.fixture
def database(postgres_server):
    """A fresh database owned by an ordinary role (password ``POSTGRES_PASSWORD``); its URL."""
    return postgres_server.create_database(f"e2e_{uuid.uuid4().hex[:8]}", POSTGRES_PASSWORD)


@pytest.fixture(scope="module")
def own_server():
    """A cluster of this module's own, to restart without disturbing the session's."""
    base = Path(tempfile.mkdtemp(prefix="sync-daemon-pg-restart-"))  # under /tmp: see conftest.postgres_server
    server = start_server(base)
    yield server
    try:
        server.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- bad input at start -----------------------------------------------------------------------


def test_postgres_down_at_start_exits_75_with_one_line_naming_the_server(tmp_path, woocommerce, gotrack):
    port = free_port()  # nobody listens there
    config = postgres_config(tmp_path / "config.toml", woocommerce, gotrack, f"postgresql://sync@127.0.0.1:{port}/sync")
    result = run_cli("run", config=config, env=env(), timeout=60)
    assert result.returncode == 75, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "unreachable" in lines[0]
    assert POSTGRES_PASSWORD not in result.stderr
    assert gotrack.orders() == []


def test_a_wrong_password_exits_2_with_one_line_and_never_shows_the_password(
    tmp_path, woocommerce, gotrack, database
):
    config = postgres_config(tmp_path / "config.toml", woocommerce, gotrack, database)
    wrong = "not-the-password-8d1f"
    result = run_cli("run", config=config, env=env(wrong), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refused the login" in lines[0] and "password" in lines[0]
    assert wrong not in result.stdout + result.stderr
    # The same password in the config file instead of the environment: still never shown.
    config = postgres_config(
        tmp_path / "config.toml", woocommerce, gotrack, database, **{"ledger.password": f'"{wrong}"'}
    )
    result = run_cli("run", config=config, env=cli_env(), timeout=60)
    assert result.returncode == 2 and wrong not in result.stdout + result.stderr, result.stderr


# -- the server goes away --------------------------------------------------------------------


def test_postgres_restarted_mid_run_the_daemon_reconnects_and_every_order_lands_once(
    tmp_path, woocommerce, gotrack, own_server
):
    url = own_server.create_database(f"restart_{uuid.uuid4().hex[:8]}", POSTGRES_PASSWORD)
    orders = generate_orders(200, seed=41, start_id=5000)
    woocommerce.add_orders(orders)
    gotrack.set_faults([{"kind": "slow", "delay": 0.05}])  # about 5 s of deliveries: the restarts fall among them
    config = postgres_config(tmp_path / "config.toml", woocommerce, gotrack, url)
    daemon = Daemon(config, tmp_path / "daemon.log", env=env())
    try:
        assert wait_until(lambda: len(gotrack.orders()) >= 40 or daemon.process.poll() is not None, timeout=60)
        own_server.restart()  # fast shutdown: every connection is cut, the leader's lock with it
        assert len(gotrack.orders()) < 120, "the deliveries were too far on at the restart; slow GoTrack down more"
        assert wait_until(lambda: len(gotrack.orders()) >= 120 or daemon.process.poll() is not None, timeout=60)
        # Then a crash of the server (no shutdown at all) and three seconds without it.
        own_server.stop("immediate")
        time.sleep(3)
        own_server.start()
        assert len(gotrack.orders()) < 200, "the deliveries were over before the crash; slow GoTrack down more"
        # An order placed after the restart: the daemon reads WooCommerce again, so it leads again.
        woocommerce.add_orders([make_order(5999)])
        expected = [order["id"] for order in orders] + [5999]
        # A request whose outcome the restart kept from the ledger stays 'sending' until its lease (14 s) ends.
        assert wait_until(lambda: len(gotrack.orders()) >= 201, timeout=90), daemon.log_path.read_text()[-3000:]
        assert wait_until(lambda: final_counts(config) == {"delivered": 201}, timeout=60, interval=1), (
            final_counts(config)
        )
        assert daemon.process.poll() is None, "the daemon exited instead of reconnecting"
        assert held_once(gotrack, expected)
        assert set(gotrack.requests_by_external_id()) == {f"woocommerce:{order_id}" for order_id in expected}
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0
    log = daemon.log_path.read_text()
    assert "Traceback" not in log.split('"pass crashed')[0]  # any traceback is that of a pass cut off by the restart
    assert events(daemon, "took the lead") and leads(daemon), "the daemon did not lead again after the restart"


# -- two daemons, one state directory -------------------------------------------------------


def test_two_daemons_on_one_state_directory_both_run_on_postgres_and_each_order_lands_once(
    tmp_path, woocommerce, gotrack, database
):
    orders = generate_orders(60, seed=43, start_id=7000)
    woocommerce.add_orders(orders)
    gotrack.set_faults([{"kind": "slow", "delay": 0.02}])
    config = postgres_config(tmp_path / "config.toml", woocommerce, gotrack, database)
    daemons = [Daemon(config, tmp_path / f"daemon-{index}.log", env=env()) for index in range(2)]
    try:
        # Neither refuses: the state directory's lock belongs to a SQLite ledger only.
        assert wait_until(lambda: all(started(d) or d.process.poll() is not None for d in daemons), timeout=60)
        assert all(d.process.poll() is None for d in daemons), [d.log_path.read_text()[-2000:] for d in daemons]
        assert not any("already running" in d.log_path.read_text() for d in daemons)
        assert wait_until(lambda: sum(leads(d) for d in daemons) == 1, timeout=30)
        assert wait_until(lambda: len(gotrack.orders()) == 60, timeout=60)

        # status beside both (its listing of daemons is not looked at here).
        status = run_cli("status", "--json", config=config, env=env())
        assert status.returncode == 0, status.stderr
        assert nonzero(json.loads(status.stdout)["counts"]["gotrack"]) == {"delivered": 60}
        assert POSTGRES_PASSWORD not in status.stdout + status.stderr

        # A third one on the same directory does not refuse either; an order placed now still lands once.
        third = Daemon(config, tmp_path / "daemon-2.log", env=env())
        daemons.append(third)
        assert wait_until(lambda: started(third) or third.process.poll() is not None, timeout=60)
        assert third.process.poll() is None and not leads(third)
        woocommerce.add_orders([make_order(7100)])
        assert wait_until(lambda: len(gotrack.orders()) == 61, timeout=30)
        assert sum(leads(d) for d in daemons) == 1
    finally:
        codes = [d.stop(signal.SIGTERM) for d in daemons]
    assert codes == [0, 0, 0]
    assert held_once(gotrack, [order["id"] for order in orders] + [7100])
    assert max(gotrack.requests_by_external_id().values()) == 1  # nothing was sent twice, not even asked twice
