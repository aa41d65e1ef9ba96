"""What flows between the engine, the dispatcher and the ledger: mapped orders, due rows, outcomes.

The engine maps orders into ``IngestItem``s, the ledger hands back ``Due`` rows, and every send
ends as one ``Outcome``. A retry outcome also carries the core's decision (``RetryPolicy.stamp``):
the attempt count, the delay and whether the row is dead, so that the ledger only stores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Operation = Literal["create", "update"]
OutcomeKind = Literal["delivered", "retry", "rejected", "paused", "skipped"]


@dataclass(frozen=True)
class Mapped:
    """One destination's view of one order: a payload, or the reason it cannot be sent."""

    destination: str
    payload: dict[str, Any] | None
    rejection: str | None = None
    note: str | None = None
    supports_update: bool = True
    skipped: bool = False  # with ``rejection`` as the reason: the order does not concern this platform


@dataclass(frozen=True)
class IngestItem:
    """An order read from WooCommerce, already mapped for every enabled destination."""

    order_id: int
    number: str
    modified: str
    status: str
    mapped: Sequence[Mapped]
    tracking_id: str | None = None  # the order's Tracktor id, when it is tracked


@dataclass(frozen=True)
class Due:
    """A delivery ready to be sent; ``attempts`` counts the attempts made before this one."""

    order_id: int
    destination: str
    operation: Operation
    attempts: int
    payload: Mapping[str, Any]  # a StoredPayload when read from the ledger (sent as its stored text)
    payload_hash: str
    remote_id: str | None


@dataclass(frozen=True)
class Outcome:
    """What one send produced.

    ``message`` is this attempt's error (the attempt log and the destination's health show it).
    ``requeue_as`` (with ``remote_id``) is the operation a retried row's next attempt makes, when
    it differs from this one's (the platform confirmed the order before a later step failed).
    For a ``retry``, ``attempts``, ``retry_delay``, ``dead`` and ``last_error`` are the retry
    policy's decision; for ``paused`` and ``skipped``, ``retry_after`` is the delay and no
    attempt is counted.
    """

    order_id: int
    destination: str
    kind: OutcomeKind
    operation: Operation
    payload_hash: str | None = None
    remote_id: str | None = None
    message: str | None = None
    http_status: int | None = None
    retry_after: float | None = None
    duration_ms: int | None = None
    max_attempts: int | None = None
    requeue_as: Operation | None = None
    # Decided by RetryPolicy.stamp for a retry, written as they are by the ledger:
    attempts: int | None = None  # the row's attempt count, this one included
    retry_delay: float | None = None  # seconds from recording to the next attempt; None when dead
    dead: bool = False
    last_error: str | None = None  # what the row shows: the message, or "gave up after …" when dead
