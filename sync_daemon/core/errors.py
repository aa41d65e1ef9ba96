"""The errors every connector raises, and nothing else.

The engine decides what happens to a delivery from the class alone:

- ``RetryableError``: try the same request again later (timeouts, resets, 5xx, 429).
- ``RetryAsUpdate``: the platform is known to hold the order, but a later step failed (e.g. the
  update that follows a create refused as a duplicate): try again later, as an update.
- ``PermanentError``: this order can never be accepted as it is (validation); reject it
  until the order changes or a human resyncs it.
- ``AuthError``: the credentials or the account are wrong; pause the whole destination,
  do not burn the retries of every order on it.
- ``QuotaError``: the account is over a limit; pause the destination for a long interval.
- ``ConfigurationError``: the daemon's own settings are wrong; fix the config.
- ``NotApplicable``: raised by a mapping when the order does not concern that platform at all;
  the ledger records it as ``skipped`` (counted, never sent, never an error).

Messages must be safe to print: connectors never put secrets or whole URLs into them.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the daemon raises on purpose."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message


class RetryableError(SyncError):
    """A transient failure: the same request may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        max_attempts: int | None = None,
    ):
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after
        # A connector may cap the retries of one kind of failure below the global schedule
        # (e.g. an answer it cannot understand is tried a few times, then the row is dead).
        self.max_attempts = max_attempts


class RetryAsUpdate(RetryableError):
    """The platform has the order (``remote_id``) but a step after that failed: the next attempt updates it.

    Without it the next attempt would create the order again, a create the platform confirmed already.
    """

    def __init__(self, message: str, *, remote_id: str, http_status: int | None = None) -> None:
        super().__init__(message, http_status=http_status)
        self.remote_id = remote_id


class RateLimitedError(RetryableError):
    """The platform asked us to slow down (429); ``retry_after`` is in seconds when known."""


class PermanentError(SyncError):
    """The platform (or our own mapping) can never accept this order as it is."""


class UnmappableOrder(PermanentError):
    """Rejected locally, before any request: the order lacks what the platform requires."""


class NotApplicable(SyncError):
    """This order does not concern the destination (e.g. no ShopBack click): skipped, not rejected."""


class AuthError(SyncError):
    """Credentials, origin or account rejected: the destination pauses until config changes."""


class QuotaError(SyncError):
    """An account limit was reached (e.g. a monthly order quota): pause for a long interval."""


class ConfigurationError(SyncError):
    """The daemon's configuration is invalid or incomplete."""


class LedgerUnavailable(SyncError):
    """The ledger's database cannot be reached now (server down, network): try again later, lose nothing."""
