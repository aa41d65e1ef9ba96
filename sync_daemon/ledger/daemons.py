"""The daemons of a ledger: who is alive, who leads, and what each holds (for ``status``).

Each running daemon writes its heartbeat every few seconds; one whose heartbeat is older than a few
intervals is dead (killed, or its host gone), and its row is removed by the next daemon to start or
beat. The lead itself is not decided here (a lock does that: ``Store.try_lead``); the row only
reports it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.store import Store

DEAD_AFTER_BEATS = 4  # missed heartbeats after which a daemon counts as gone


class Daemons(Store):
    """Heartbeats of the daemons that share this ledger."""

    def daemon_started(self, *, now: float) -> None:
        """Say this daemon is alive (and forget daemons long dead)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO daemons (daemon_id, host, pid, started_at, heartbeat_at, leads) VALUES (?, ?, ?, ?, ?, 0)"
                " ON CONFLICT (daemon_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                [self.owner, socket.gethostname(), os.getpid(), iso_stamp(now), now],
            )

    def daemon_heartbeat(self, *, now: float, leads: bool, interval: float) -> None:
        """Renew this daemon's heartbeat and say whether it leads; remove daemons gone silent."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE daemons SET heartbeat_at = ?, leads = ? WHERE daemon_id = ?",
                [now, int(leads), self.owner],
            )
            connection.execute(
                "DELETE FROM daemons WHERE heartbeat_at < ?", [now - interval * DEAD_AFTER_BEATS * 10]
            )

    def daemon_stopped(self) -> None:
        """Remove this daemon's row at a clean stop, and give back the rows it took but did not send.

        Rows still ``sending`` keep their lease (their answer is unknown: they go out again when it
        ends); the others would otherwise wait for it too, though no request of theirs ever left.
        """
        with self.transaction() as connection:
            connection.execute("DELETE FROM daemons WHERE daemon_id = ?", [self.owner])
            connection.execute(
                "UPDATE deliveries SET leased_by = NULL, leased_until = NULL"
                " WHERE leased_by = ? AND state IN ('pending', 'retrying')",
                [self.owner],
            )

    def daemons(self, *, now: float, interval: float) -> list[dict[str, Any]]:
        """Every daemon that beat recently: id, host, pid, since when, whether it leads, requests it has out."""
        rows = self._rows(
            # Requests in flight, counted on the partial index of ``sending`` rows (never a scan of all).
            "SELECT d.daemon_id, d.host, d.pid, d.started_at, d.heartbeat_at, d.leads,"
            " (SELECT COUNT(*) FROM deliveries s WHERE s.state = 'sending' AND s.leased_by = d.daemon_id) AS sending"
            " FROM daemons d WHERE d.heartbeat_at >= ? ORDER BY d.started_at",
            [now - interval * DEAD_AFTER_BEATS],
        )
        for row in rows:
            row["leads"] = bool(row["leads"])
            row["heartbeat_seconds_ago"] = round(max(now - row.pop("heartbeat_at"), 0.0), 1)
        return rows
