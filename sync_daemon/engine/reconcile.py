"""Reading orders again on purpose: a webhook hint ("look at order N now") and the reconcile sweep.

Both read orders by id (``include=``, 100 per request) and ingest them with ``reread``: an
unchanged ``date_modified`` proves nothing here (WooCommerce does not bump it for an
address-only or meta-only edit), so the ledger compares the mapped payloads' hashes and queues
an update only when one really changed. Neither moves the cursor: polling stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from sync_daemon.core.errors import SyncError
from sync_daemon.core.redaction import redact
from sync_daemon.engine.sync import Engine, PassSummary
from sync_daemon.ledger.open_orders import open_order_ids

log = structlog.get_logger("sync_daemon.reconcile")

IDS_PER_REQUEST = 100  # WooCommerce's per_page limit
DAY_SECONDS = 86_400


@dataclass
class RereadResult:
    """What one re-read did: orders asked for, found in the shop, and the pass counters."""

    asked: int = 0
    found: int = 0
    requests: int = 0
    error: str | None = None
    summary: PassSummary | None = None


def reread_orders(engine: Engine, order_ids: Sequence[int], *, reason: str) -> RereadResult:
    """Read these orders now, record what changed, deliver what is due (holds the engine's lock)."""
    result = RereadResult(asked=len(order_ids))
    if not order_ids:
        return result
    summary = PassSummary()
    result.summary = summary
    with engine.busy:
        dispatcher = engine._dispatcher(summary)  # noqa: SLF001 - the engine's own package
        ids = sorted(set(order_ids))
        try:
            for start in range(0, len(ids), IDS_PER_REQUEST):
                if engine.stop_event.is_set():
                    break
                page = engine.source.get_orders(ids[start : start + IDS_PER_REQUEST])
                result.requests += 1
                result.found += len(page)
                engine._ingest_page(page, summary, dispatcher, reread=True)  # noqa: SLF001
                engine.on_progress()
                dispatcher.pump()
        except SyncError as error:
            # Nothing is lost: the next poll and the next sweep read these orders again.
            result.error = redact(str(error))
            log.warning("re-reading orders failed; polling and the sweep will catch up", reason=reason,
                        error=result.error, orders=len(ids))
        dispatcher.drain()
    summary.fetched = result.found
    log.info("orders re-read", reason=reason, asked=result.asked, found=result.found,
             changed=summary.changed, new=summary.new, delivered=summary.delivered, error=result.error)
    return result


def sweep(engine: Engine) -> RereadResult:
    """The reconcile sweep: re-read every synced order that is still open and recent."""
    woocommerce = engine.settings.woocommerce
    since = engine.clock() - woocommerce.reconcile_days * DAY_SECONDS
    with engine.busy:
        ids = open_order_ids(engine.ledger, since=since)
        return reread_orders(engine, ids, reason="reconcile")
