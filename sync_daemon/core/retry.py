"""When a failed delivery is tried again, and when it is given up: the retry policy.

The schedule lists the delay before each retry (the first entry follows the first failure). Each
delay varies by ``± jitter`` so that rows failed together do not all come back together, and a
platform's ``Retry-After`` is honoured when it asks for longer. Once the schedule is spent, or a
connector's ``RetryableError.max_attempts`` is reached, the row is dead.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sync_daemon.core.outcome import Outcome


@dataclass(frozen=True)
class RetryPolicy:
    """The retry schedule with its jitter; stamps retry outcomes with the decision."""

    schedule: Sequence[float]
    jitter: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", tuple(self.schedule))

    def delay(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds until attempt ``attempts + 1``, with jitter; None once the schedule is spent."""
        if attempts > len(self.schedule):
            return None
        base = self.schedule[attempts - 1]
        delay = base * (1 + random.uniform(-self.jitter, self.jitter))
        return max(delay, retry_after or 0)

    def stamp(self, outcome: Outcome, *, attempts_before: int) -> Outcome:
        """The outcome with the decision for its row; outcomes other than ``retry`` come back unchanged.

        ``attempts_before`` is the row's count when it was taken (``Due.attempts``): a row is
        ``sending`` while its request is out, so nothing else changes it meanwhile.
        """
        if outcome.kind != "retry":
            return outcome
        attempts = attempts_before + 1
        delay = self.delay(attempts, outcome.retry_after)
        if outcome.max_attempts is not None and attempts >= outcome.max_attempts:
            delay = None  # the connector knows more tries cannot help
        message = outcome.message or ""
        if delay is None:
            message = f"gave up after {attempts} attempts; last error: {message}"
        return dataclasses.replace(
            outcome, attempts=attempts, retry_delay=delay, dead=delay is None, last_error=message
        )
