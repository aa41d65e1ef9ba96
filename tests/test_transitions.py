"""The ingest and resync transitions on their own: one row of the table per test case."""

import pytest

from sync_daemon.core.outcome import Mapped
from sync_daemon.core.transitions import (
    NO_UPDATE_API_NOTE,
    IngestDecision,
    StoredDelivery,
    decide_ingest,
    decide_resync,
)

NEW, OLD, SENT = "hash-new", "hash-old", "hash-sent"
PAYLOAD = Mapped("a", {"id": "1"}, note="from the map")
NO_UPDATE = Mapped("a", {"id": "1"}, supports_update=False)
REJECTED = Mapped("a", None, rejection="no phone", note="why")
SKIPPED = Mapped("a", None, rejection="no click id", skipped=True)


def row(state, payload_hash=OLD, delivered_hash=None):
    return StoredDelivery(state, payload_hash, delivered_hash)


@pytest.mark.parametrize(
    ("stored", "mapped", "expected"),
    [
        # a first sight of the order
        (None, PAYLOAD, IngestDecision("insert", "new", state="pending", note="from the map")),
        (None, SKIPPED, IngestDecision("insert", "skipped", state="skipped")),
        (None, REJECTED, IngestDecision("insert", "rejected", state="rejected", note="why", log_rejection=True)),
        # the same content again, as queued or as delivered
        (row("pending", NEW), PAYLOAD, IngestDecision("keep", "unchanged")),
        (row("rejected", NEW), REJECTED, IngestDecision("keep", "unchanged")),
        (row("pending", OLD, NEW), PAYLOAD, IngestDecision("keep", "unchanged")),
        # changed content
        (row("pending"), PAYLOAD, IngestDecision("queue", "changed", state="pending", note="from the map")),
        (row("rejected"), PAYLOAD, IngestDecision("queue", "changed", state="pending", note="from the map")),
        (row("dead"), PAYLOAD, IngestDecision("queue", "changed", state="pending", note="from the map")),
        (row("delivered", SENT, SENT), PAYLOAD,
         IngestDecision("queue", "changed", state="pending", operation="update", note="from the map")),
        (row("delivered", SENT, SENT), NO_UPDATE, IngestDecision("annotate", "unchanged", note=NO_UPDATE_API_NOTE)),
        (row("delivered", SENT, SENT), REJECTED,
         IngestDecision("annotate", "rejected", note="changed after delivery but cannot be sent: no phone")),
        (row("pending"), REJECTED, IngestDecision("withdraw", "rejected", state="rejected", note="why",
                                                  log_rejection=True)),
        (row("pending"), SKIPPED, IngestDecision("withdraw", "skipped", state="skipped")),
        # a row with a request out is decided again even when its content is the same
        (row("sending", NEW), PAYLOAD, IngestDecision("queue", "changed", state="pending", note="from the map")),
    ],
)
def test_ingest_transition(stored, mapped, expected):
    assert decide_ingest(stored, mapped, NEW) == expected


def test_an_update_once_delivered_even_when_the_row_waits_again():
    # Delivered once, then changed and queued: a second change is still an update.
    assert decide_ingest(row("retrying", OLD, SENT), PAYLOAD, NEW).operation == "update"


def test_a_create_the_platform_confirmed_stays_an_update_when_the_order_changes_meanwhile():
    # RetryAsUpdate left the row retrying as an update (the platform has the order, not yet delivered):
    # an edit read meanwhile must not turn it back into a create (a refused 422 at best, a second order at worst).
    waiting = StoredDelivery("retrying", OLD, None, "update")
    assert decide_ingest(waiting, PAYLOAD, NEW).operation == "update"
    assert decide_ingest(row("retrying", OLD), PAYLOAD, NEW).operation == "create"


def test_the_no_update_note_says_why_nothing_was_sent():
    assert NO_UPDATE_API_NOTE == (
        "changed in WooCommerce after delivery; this platform has no update API, so it was not re-sent"
    )


@pytest.mark.parametrize(
    ("mapped", "delivered_before", "expected"),
    [
        (PAYLOAD, False, ("sending", "create")),
        (PAYLOAD, True, ("sending", "update")),
        (NO_UPDATE, True, ("sending", "create")),
        (REJECTED, True, ("rejected", "create")),
        (SKIPPED, False, ("skipped", "create")),
    ],
)
def test_resync_transition(mapped, delivered_before, expected):
    decision = decide_resync(mapped, delivered_before=delivered_before)
    assert (decision.state, decision.operation) == expected
