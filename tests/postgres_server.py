"""A real, throw-away PostgreSQL server for the tests: ``initdb`` in a temp dir, on a free loopback port.

Debian's ``postgresql`` package (installed by ``.ci/run``) provides the server binaries. They refuse
to run as root, so as root the cluster belongs to the ``postgres`` system user the package creates.
The superuser (``postgres``, password auth over TCP) only creates the ordinary roles and databases
the daemons use; the daemon refuses a superuser itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

SUPERUSER_PASSWORD = "superuser-test-password"


def server_binaries() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest version."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One cluster: start, stop, restart, and ordinary roles with databases of their own."""

    def __init__(self, base: Path) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.bin = binaries
        self.base = base
        self.data = base / "data"
        self.sockets = base / "sockets"
        self.log = base / "server.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stderr or result.stdout}\n{log[-2000:]}")

    def init(self) -> None:
        """Create the cluster (scram-sha-256 over TCP, as a production server)."""
        self.sockets.mkdir(parents=True)
        password_file = self.base / "superuser-password"
        password_file.write_text(SUPERUSER_PASSWORD)
        if self._as_postgres:
            shutil.chown(self.base, "postgres")
            for path in (self.sockets, password_file):
                shutil.chown(path, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-locale",
        )
        if self._as_postgres:
            self.log.touch()
            shutil.chown(self.log, "postgres")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=300"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # a test cluster: speed over durability
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def admin(self) -> psycopg.Connection:
        """A superuser connection (for setting up roles and databases only)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", password=SUPERUSER_PASSWORD, dbname="postgres",
            autocommit=True,
        )

    def create_database(self, name: str, password: str) -> str:
        """An ordinary role ``name`` owning a database ``name``; returns its URL (without the password)."""
        with self.admin() as admin:
            admin.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD \'{password}\'')
            admin.execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
        return f"postgresql://{name}@127.0.0.1:{self.port}/{name}"


def start_server(base: Path) -> PostgresServer:
    """A new cluster in ``base``, started."""
    server = PostgresServer(base)
    server.init()
    server.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            server.admin().close()
            return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
