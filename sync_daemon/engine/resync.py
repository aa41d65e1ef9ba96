"""A manual resync: one order read now, mapped again and pushed to its platforms whatever its ledger state.

The merchant's "fix this one order" (``sync-daemon resync ID``). It goes through the engine's own
send (classification, retry stamp, pauses) and records like a pass, but ignores a pause: a human
asked, and a success lifts the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from sync_daemon.core.errors import ConfigurationError, SyncError

# The ``Engine`` of engine/sync.py, which calls these functions: typed as Any so that the two modules
# do not import each other.
Engine = Any

log = structlog.get_logger("sync_daemon.engine")


@dataclass
class ResyncResult:
    """What a manual resync did for one destination."""

    destination: str
    outcome: str
    message: str = ""
    remote_id: str | None = None

    @property
    def landed(self) -> bool:
        """True when the platform has the order now."""
        return self.outcome == "delivered"

    @property
    def ok(self) -> bool:
        """True when nothing is left to do: landed, or the order does not concern this platform."""
        return self.outcome in ("delivered", "skipped")


def resync_order(engine: Engine, order_id: int, destination: str | None = None) -> list[ResyncResult]:
    """Fetch one order now, re-map and push it to one destination (or all), whatever its ledger state."""
    names = [destination] if destination else list(engine.destinations)
    for name in names:
        if name not in engine.destinations:
            raise ConfigurationError(
                f"destination {name!r} is not enabled (enabled: {', '.join(engine.destinations) or 'none'})"
            )
    with engine.busy:
        raw = engine.source.get_order(order_id)
        item = engine.map_raw(raw, names)
        to_send = engine.ledger.prepare_resync(item, now=engine.clock())
        results = [
            ResyncResult(m.destination, "skipped" if m.skipped else "rejected", m.rejection or "")
            for m in item.mapped
            if m.payload is None
        ]
        for due in to_send:
            outcome = engine.send(due, True)
            engine.ledger.record([outcome], now=engine.clock())
            if outcome.kind == "delivered":
                engine.pauses.lift(due.destination)
                _refresh_status(engine, due.destination, order_id)
            results.append(ResyncResult(due.destination, outcome.kind, outcome.message or "", outcome.remote_id))
        return sorted(results, key=lambda result: result.destination)


def _refresh_status(engine: Engine, name: str, order_id: int) -> None:
    """Read the platform's status of a resynced order at once, where the platform reads statuses back."""
    source = engine.status_sources.get(name)
    if source is None or source.kind != "delivery":
        return
    try:
        found = source.fetch_one(order_id)
    except SyncError as error:
        log.warning("could not read the remote status after resync", destination=name, error=str(error))
        return
    if found is not None:
        engine.ledger.update_remote_statuses(name, [(order_id, *found)], now=engine.clock())
