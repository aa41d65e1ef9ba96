"""Waits told to one daemon, heard by the others of a shared PostgreSQL ledger at once (LISTEN/NOTIFY).

A daemon that a platform asks to wait (429 with Retry-After) writes the pause into the ledger with
its batch, a few milliseconds later; the others would learn of it only when they next read it, and
meanwhile go on sending into the wait. So the pause is also sent as a notification on one channel
of the database; every daemon listens, holding one of its pooled connections for it, and holds its
requests back the moment it arrives. The notification is only a hint: the ledger row stays the truth (a daemon that
was not listening, or reconnecting, reads it before it sends). Shops sharing a database share the
channel; each listener keeps only its own shop's notices, and none of its own daemon's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import structlog

from sync_daemon.ledger.postgres_schema import SHOP_SETTING

log = structlog.get_logger("sync_daemon.ledger")

CHANNEL = "sync_daemon_pause"
WAKE_SECONDS = 0.5  # how often the listening thread looks up from the socket to see if it must stop
RECONNECT_SECONDS = 2.0  # after the database went away
REASON_LIMIT = 500  # a notification's payload must stay under 8000 bytes
# (destination, pause kind, reason, until in epoch seconds)
Heard = Callable[[str, str, str, float], None]

NOTIFY_SQL = "SELECT pg_notify(?, json_build_object('shop', current_setting(?), 'pause', ?::json)::text)"


def notice(owner: str, name: str, kind: str, reason: str, until: float) -> list[Any]:
    """The parameters of ``NOTIFY_SQL`` for one pause (the server adds the shop)."""
    pause = {"owner": owner, "name": name, "kind": kind, "reason": reason[:REASON_LIMIT], "until": until}
    return [CHANNEL, SHOP_SETTING, json.dumps(pause)]


class PauseListener:
    """A thread listening for the other daemons' pauses on a connection it holds, until ``stop``."""

    def __init__(self, connection: Callable[[], AbstractContextManager[Any]], owner: str, heard: Heard) -> None:
        self._connection = connection
        self._owner = owner
        self._heard = heard
        self._stopping = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="pause-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (returns within about ``WAKE_SECONDS``)."""
        self._stopping.set()
        self._thread.join(timeout=WAKE_SECONDS * 4)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connection() as raw:
                    self._listen(raw)
            except Exception as error:  # noqa: BLE001 - an outage: the ledger row still tells, listen again later
                if not self._warned:
                    log.warning("not listening for other daemons' waits; trying again", error=str(error))
                    self._warned = True
                self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self, raw: Any) -> None:
        shop = raw.execute("SELECT current_setting(%s)", [SHOP_SETTING]).fetchone()[0]
        raw.execute(f"LISTEN {CHANNEL}")
        self._warned = False
        try:
            while not self._stopping.is_set():
                for notification in raw.notifies(timeout=WAKE_SECONDS):
                    self._deliver(notification.payload, shop)
        finally:
            if not raw.closed:
                raw.execute("UNLISTEN *")  # the connection goes back to its pool

    def _deliver(self, payload: str, shop: str) -> None:
        try:
            message = json.loads(payload)
            pause = message["pause"]
            if message["shop"] != shop or pause["owner"] == self._owner:
                return
            self._heard(str(pause["name"]), str(pause["kind"]), str(pause["reason"]), float(pause["until"]))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignored a malformed pause notice", error=str(error))
