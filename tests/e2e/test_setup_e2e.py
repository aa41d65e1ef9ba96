"""Set-up and daily operation as a person sees it through the real CLI (issue 30): where the ledger is
looked for, one set of offline checks, credentials from one folder, the shipped example."""

from __future__ import annotations

import signal

from sync_daemon.simulators.orders import make_order

from .harness import Daemon, cli_env, run_cli, wait_until, write_config


def without_state_dir(config):
    """The harness's config minus its state_dir line: the default rule applies."""
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("state_dir")))
    return config


def test_commands_find_the_service_ledger_and_never_create_one(tmp_path, woocommerce, gotrack):
    config = without_state_dir(write_config(tmp_path / "config.toml", woocommerce, gotrack))
    service_state = tmp_path / "service-state"
    service_state.mkdir()
    env = cli_env() | {"STATE_DIRECTORY": str(service_state)}
    for command in (["status"], ["status", "--json"], ["prune", "--dry-run"], ["writeback", "--dry-run"]):
        result = run_cli(*command, config=config, env=env)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"there is no ledger at {service_state / 'ledger.sqlite3'}" in result.stderr
        assert "set state_dir" in result.stderr and "Traceback" not in result.stderr
        assert list(service_state.iterdir()) == [], command  # nothing created, not even the directory's files

    woocommerce.add_orders([make_order(8200)])
    daemon = Daemon(config, tmp_path / "daemon.log", env=env)  # the service: $STATE_DIRECTORY, no state_dir
    try:
        assert wait_until(lambda: len(gotrack.orders()) == 1, timeout=30)
    finally:
        assert daemon.stop(signal.SIGTERM) == 0
    status = run_cli("status", config=config, env=env)
    assert status.returncode == 0, status.stderr
    assert str(service_state) in status.stdout  # the service's ledger, not one of its own
