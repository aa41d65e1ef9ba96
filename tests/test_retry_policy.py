"""The retry policy on its own: delays, jitter, when a row is given up, and what it stamps."""

import pytest

from sync_daemon.core.outcome import Outcome
from sync_daemon.core.retry import RetryPolicy

SCHEDULE = [5, 300, 1800]


def retry(**fields):
    return Outcome(1, "a", "retry", "create", message="HTTP 503", **fields)


@pytest.mark.parametrize(("attempts", "expected"), [(1, 5), (2, 300), (3, 1800), (4, None), (10, None)])
def test_delays_follow_the_schedule_exactly_without_jitter(attempts, expected):
    assert RetryPolicy(SCHEDULE, jitter=0).delay(attempts) == expected


def test_retry_after_wins_only_when_longer():
    policy = RetryPolicy(SCHEDULE, jitter=0)
    assert policy.delay(1, retry_after=120) == 120
    assert policy.delay(2, retry_after=120) == 300
    assert policy.delay(4, retry_after=120) is None  # a spent schedule is not revived by Retry-After


def test_jitter_stays_within_its_bounds_and_varies():
    policy = RetryPolicy([100], jitter=0.2)
    delays = {policy.delay(1) for _ in range(200)}
    assert all(80 <= delay <= 120 for delay in delays)
    assert len(delays) > 1


def test_a_retry_is_stamped_with_the_next_attempt():
    stamped = RetryPolicy(SCHEDULE, jitter=0).stamp(retry(), attempts_before=1)
    assert (stamped.attempts, stamped.retry_delay, stamped.dead) == (2, 300, False)
    assert stamped.last_error == "HTTP 503"
    assert stamped.message == "HTTP 503"  # the attempt log keeps the error itself


def test_dead_once_the_schedule_is_spent():
    stamped = RetryPolicy(SCHEDULE, jitter=0).stamp(retry(), attempts_before=3)
    assert (stamped.attempts, stamped.retry_delay, stamped.dead) == (4, None, True)
    assert stamped.last_error == "gave up after 4 attempts; last error: HTTP 503"
    assert stamped.message == "HTTP 503"


def test_max_attempts_gives_up_before_the_schedule_does():
    policy = RetryPolicy(SCHEDULE, jitter=0)
    assert policy.stamp(retry(max_attempts=2), attempts_before=0).dead is False
    capped = policy.stamp(retry(max_attempts=2), attempts_before=1)
    assert (capped.attempts, capped.dead, capped.retry_delay) == (2, True, None)
    assert capped.last_error == "gave up after 2 attempts; last error: HTTP 503"


def test_a_retry_without_a_message_keeps_an_empty_error():
    stamped = RetryPolicy(SCHEDULE, jitter=0).stamp(Outcome(1, "a", "retry", "create"), attempts_before=0)
    assert stamped.last_error == ""
    dead = RetryPolicy([5], jitter=0).stamp(Outcome(1, "a", "retry", "create"), attempts_before=1)
    assert dead.last_error == "gave up after 2 attempts; last error: "


@pytest.mark.parametrize("kind", ["delivered", "rejected", "paused", "skipped"])
def test_other_outcomes_are_left_as_they_are(kind):
    outcome = Outcome(1, "a", kind, "update", message="x", retry_after=60)
    assert RetryPolicy(SCHEDULE, jitter=0).stamp(outcome, attempts_before=2) is outcome
