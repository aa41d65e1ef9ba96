"""Destinations' pauses and health: the ``destinations`` table.

A pause stops sending to one platform until a moment; a pause that only new settings can cure
(credentials, quota, configuration) is lifted as soon as the platform's settings fingerprint changes.
On a ledger several daemons share, a pause can also be announced to the others at once
(``ledger/pause_signal.py``); a ledger of one daemon has no one to tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync_daemon.ledger.encoding import iso_stamp
from sync_daemon.ledger.pause_signal import NOTIFY_SQL, PauseListener, notice
from sync_daemon.ledger.store import Store

LIFTED_BY_NEW_SETTINGS = ("auth", "quota", "config")  # pause kinds that new settings may cure


class Pauses(Store):
    """Pause, resume and remember each destination's settings fingerprint."""

    def pause_destination(self, name: str, *, kind: str, reason: str, until: float, now: float) -> None:
        """Stop sending to a destination until ``until`` (epoch seconds)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO destinations (name, paused_until, pause_kind, pause_reason, last_error, last_error_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused_until = excluded.paused_until,"
                " pause_kind = excluded.pause_kind, pause_reason = excluded.pause_reason,"
                " last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                [name, until, kind, reason, reason, iso_stamp(now)],
            )

    def announce_pause(self, name: str, *, kind: str, reason: str, until: float) -> None:
        """Tell the other daemons of a shared ledger of a pause now (the row follows with the batch)."""
        if not self.shared:
            return
        with self.transaction() as connection:
            connection.execute(NOTIFY_SQL, notice(self.owner, name, kind, reason, until))

    def listen_for_pauses(self, heard: Callable[[str, str, str, float], None]) -> Callable[[], None] | None:
        """Call ``heard(destination, kind, reason, until)`` as soon as another daemon of a shared ledger
        announces a pause; returns what stops listening (None for a ledger of one daemon)."""
        if not self.shared:
            return None
        return PauseListener(self._connection, self.owner, heard).stop

    def resume_destination(self, name: str) -> None:
        """Lift a pause (after a successful send, a resync or new credentials)."""
        with self.transaction() as connection:
            connection.execute(
                "UPDATE destinations SET paused_until = NULL, pause_kind = NULL, pause_reason = NULL WHERE name = ?",
                [name],
            )

    def destination(self, name: str) -> dict[str, Any]:
        """A destination's pause and health record (empty fields when never seen)."""
        rows = self._rows("SELECT * FROM destinations WHERE name = ?", [name])
        return rows[0] if rows else {"name": name, "paused_until": None, "pause_kind": None, "fingerprint": None}

    def note_fingerprint(self, name: str, fingerprint: str, *, now: float) -> bool:
        """Store a destination's config fingerprint; True when it changed (pause then lifted).

        Lifting the pause also makes the rows it parked due now: they were set back to
        ``pending`` with the pause's end as their next attempt, and would otherwise wait it out.
        """
        record = self.destination(name)
        previous = record.get("fingerprint")
        if previous == fingerprint:
            return False
        lifted = record.get("pause_kind") in LIFTED_BY_NEW_SETTINGS
        with self.transaction() as connection:
            connection.execute(
                "INSERT INTO destinations (name, fingerprint) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET"
                " fingerprint = excluded.fingerprint",
                [name, fingerprint],
            )
            if lifted:
                connection.execute(
                    "UPDATE destinations SET paused_until = NULL, pause_kind = NULL WHERE name = ?", [name]
                )
                connection.execute(
                    "UPDATE deliveries SET next_attempt_at = ? WHERE destination = ? AND state = 'pending'"
                    " AND next_attempt_at > ?",
                    [now, name, now],
                )
        return previous is not None
