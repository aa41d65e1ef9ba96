"""One send and what it means: the table from the core's errors to an outcome and, where due, a pause.

Platforms raise only the errors of ``core/errors.py``; this is the one place that reads them.
Retryable failures become ``retry`` (the retry policy then decides when, or gives up; a row the
platform is known to hold is retried as an update, ``RetryAsUpdate``), a refusal
of the order becomes ``rejected``, and a problem of the destination itself (credentials, quota,
configuration, rate limit) pauses the destination without counting an attempt on the order. A
request the destination's gate held back (``GateClosed``: another thread's 429 came first) never
left, so its row goes back to ``pending`` for when the wait is over, no attempt counted either.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from typing import Any

import structlog

from sync_daemon.core.errors import (
    AuthError,
    ConfigurationError,
    PermanentError,
    QuotaError,
    RateLimitedError,
    RetryableError,
    RetryAsUpdate,
    SyncError,
)
from sync_daemon.core.gate import DEFAULT_WAIT_SECONDS, GateClosed
from sync_daemon.core.outcome import Due, Outcome, OutcomeKind
from sync_daemon.core.redaction import redact
from sync_daemon.engine.pauses import Pauses
from sync_daemon.platforms import Destination

log = structlog.get_logger("sync_daemon.engine")

DEFAULT_THROTTLE_SECONDS = DEFAULT_WAIT_SECONDS  # a 429 without Retry-After (the gate waits as long)
CONFIG_PAUSE_SECONDS = 365 * 86400.0  # "until the settings change": a new fingerprint lifts it


def send_and_classify(
    destination: Destination,
    due: Due,
    *,
    pauses: Pauses,
    stop_event: threading.Event,
    auth_pause_seconds: float,
    quota_pause_seconds: float,
    ignore_pause: bool = False,
) -> Outcome:
    """Push one delivery and turn what happened into an outcome (runs on a worker thread)."""
    # The dispatcher checked the ledger's pauses when it took the batch; a pause that starts during
    # the batch is set in memory first, so memory is all there is to check here, without a ledger
    # query (and its lock) per request. After a wait, only the first request is admitted until it
    # comes back (``probe``); the others go back to the queue, no attempt counted.
    admission = "open"
    if not ignore_pause:
        if stop_event.is_set():
            return _outcome(due, "skipped")
        admission = pauses.admit(due.destination)
        if admission == "refused":
            return _outcome(due, "skipped")
    result = _push(destination, due, pauses, ignore_pause, auth_pause_seconds, quota_pause_seconds)
    if admission == "probe":
        pauses.probed(due.destination, result)
    return result


def _push(
    destination: Destination,
    due: Due,
    pauses: Pauses,
    ignore_pause: bool,
    auth_pause_seconds: float,
    quota_pause_seconds: float,
) -> Outcome:
    """One push and its outcome."""
    started = time.monotonic()
    elapsed = lambda: int((time.monotonic() - started) * 1000)  # noqa: E731
    try:
        result = destination.push(due.payload, operation=due.operation, remote_id=due.remote_id)
    except RetryAsUpdate as error:
        # The platform has the order: the ledger keeps that, so the next attempt cannot create it again.
        cause = error.__cause__ if isinstance(error.__cause__, SyncError) else RetryableError(str(error))
        failed = _failure(cause, due, elapsed(), pauses, ignore_pause, auth_pause_seconds, quota_pause_seconds)
        return dataclasses.replace(failed, message=str(error), requeue_as="update", remote_id=error.remote_id)
    except Exception as error:  # noqa: BLE001 - classified below; a bug in one send must not stop the pass
        return _failure(error, due, elapsed(), pauses, ignore_pause, auth_pause_seconds, quota_pause_seconds)
    return _outcome(due, "delivered", remote_id=result.remote_id, message=result.detail, duration_ms=elapsed())


def _outcome(due: Due, kind: OutcomeKind, **fields: Any) -> Outcome:
    return Outcome(due.order_id, due.destination, kind, due.operation, payload_hash=due.payload_hash, **fields)


def _failure(
    error: Exception,
    due: Due,
    duration_ms: int,
    pauses: Pauses,
    ignore_pause: bool,
    auth_pause_seconds: float,
    quota_pause_seconds: float,
) -> Outcome:
    """The outcome of a push that raised ``error`` (and the destination's pause, where one is due)."""
    name = due.destination
    outcome = functools.partial(_outcome, due)
    if isinstance(error, GateClosed):
        wait_for = error.retry_after or 0.0
        if not pauses.halted(name):  # the 429 that closed the gate has set (or is setting) its own pause
            pauses.halt(name, "throttled", f"asked to wait (Retry-After); waiting {wait_for:.0f} s", wait_for)
        if not ignore_pause:
            return outcome("skipped", message=str(error), retry_after=wait_for)
        # A resync must not call "not sent" a success: it is a throttled attempt, as a 429 would be.
        return outcome("retry", message=str(error), http_status=429, retry_after=wait_for, duration_ms=duration_ms)
    if isinstance(error, RateLimitedError):
        wait_for = error.retry_after if error.retry_after is not None else DEFAULT_THROTTLE_SECONDS
        pauses.halt(name, "throttled", f"rate limited (429); waiting {wait_for:.0f} s", wait_for)
        return outcome("retry", message=str(error), http_status=429, retry_after=wait_for, duration_ms=duration_ms)
    if isinstance(error, RetryableError):
        return outcome(
            "retry",
            message=str(error),
            http_status=error.http_status,
            duration_ms=duration_ms,
            max_attempts=error.max_attempts,
        )
    if isinstance(error, AuthError | ConfigurationError | QuotaError):
        kind, seconds = _destination_pause(error, auth_pause_seconds, quota_pause_seconds)
        pauses.halt(name, kind, str(error), seconds)
        return outcome(
            "paused", message=str(error), http_status=error.http_status, retry_after=seconds, duration_ms=duration_ms
        )
    if isinstance(error, PermanentError):
        return outcome("rejected", message=str(error), http_status=error.http_status, duration_ms=duration_ms)
    log.error("unexpected error while sending", destination=name, order_id=due.order_id, exc_info=error)
    return outcome("retry", message=redact(f"internal error: {type(error).__name__}: {error}"), duration_ms=duration_ms)


def _destination_pause(error: Exception, auth_seconds: float, quota_seconds: float) -> tuple[str, float]:
    """(pause kind, seconds) for an error that concerns the destination, not the order."""
    if isinstance(error, AuthError):
        return "auth", auth_seconds
    if isinstance(error, QuotaError):
        return "quota", quota_seconds
    # Only a change of settings can fix it: paused until then (a reload or restart lifts it).
    return "config", CONFIG_PAUSE_SECONDS
