"""The ledger's contract: the delivery state machine as every backend must store it.

A backend's tests subclass ``LedgerContract`` and override ``make_ledger`` with a fixture that
returns a callable opening that backend's ledger on the test's own storage (the same storage at
every call, so a test can close and reopen it). The tests use the public ledger API only: no SQL,
no file, nothing a PostgreSQL backend would not have. Retry decisions come from the core's
``RetryPolicy``, as in the engine; the ledger has to store them as they are.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from sync_daemon.core.outcome import IngestItem, Mapped, Outcome
from sync_daemon.core.retry import RetryPolicy
from sync_daemon.ledger.encoding import canonical_json, iso_stamp

NOW = 1_800_000_000.0
POLICY = RetryPolicy([5, 300, 1800], jitter=0)


def item(order_id=1, modified="2026-11-20T10:00:00", payload=None, rejection=None, supports_update=True, dest="a"):
    """An order mapped for one destination (a payload unless ``rejection`` is given)."""
    payload = payload if payload is not None or rejection else {"id": str(order_id), "total": 100}
    return IngestItem(order_id, str(order_id), modified, "processing",
                      [Mapped(dest, payload, rejection=rejection, supports_update=supports_update)])


def send_all(ledger, dest="a", kind="delivered", now=NOW, **fields):
    """Take every due row of ``dest``, and record the same outcome for each, as the engine would."""
    due = ledger.due(dest, now=now, limit=100)
    ledger.mark_sending(due, now=now)
    ledger.record([POLICY.stamp(Outcome(d.order_id, d.destination, kind, d.operation, payload_hash=d.payload_hash,
                                        **fields), attempts_before=d.attempts)
                   for d in due], now=now)
    return due


def send_one(ledger, order_id, kind, now, dest="a", **fields):
    """Take one order's due row, and record one outcome for it at ``now``."""
    due = [d for d in ledger.due(dest, now=now, limit=100) if d.order_id == order_id]
    ledger.mark_sending(due, now=now)
    ledger.record([POLICY.stamp(Outcome(order_id, dest, kind, d.operation, payload_hash=d.payload_hash, **fields),
                                attempts_before=d.attempts) for d in due], now=now)


def state(ledger, order_id=1, dest="a"):
    """The state of one delivery row."""
    return ledger.delivery(order_id, dest)["state"]


DAY = 86400.0
OLD = NOW - 100 * DAY  # outside a 90-day retention window
CUTOFF = NOW - 90 * DAY
OPEN = ("pending", "on-hold", "processing")


def finished(ledger, order_id, kind="delivered", status="completed", at=OLD, dests=("a", "b"), **extra):
    """An order recorded and sent at ``at``, each of ``dests`` ending ``kind``, last seen in ``status``."""
    mapped = [Mapped(dest, {"id": str(order_id)}) for dest in dests]
    ledger.ingest([IngestItem(order_id, str(order_id), f"m{order_id}", status, mapped, **extra)], now=at)
    for dest in dests:
        due = [d for d in ledger.due(dest, now=at, limit=1000) if d.order_id == order_id]
        ledger.mark_sending(due, now=at)
        ledger.record([POLICY.stamp(Outcome(d.order_id, dest, kind, d.operation, payload_hash=d.payload_hash,
                                            message=None if kind == "delivered" else "HTTP 422", max_attempts=1),
                                    attempts_before=d.attempts) for d in due], now=at)


def prune_all(ledger, older_than=CUTOFF, open_statuses=OPEN, limit=500):
    """Batches until one comes back short, as the daemon runs them; the sum of what they removed."""
    removed = []
    while True:
        batch = ledger.prune_batch(older_than=older_than, open_statuses=open_statuses, limit=limit)
        removed.append(batch.orders)
        if batch.orders < limit:
            return removed


class LedgerContract:
    """Tests every ledger backend passes; subclasses provide ``make_ledger``."""

    @pytest.fixture
    def make_ledger(self):
        """A callable opening this test's ledger; each backend's test class overrides it."""
        raise NotImplementedError("a LedgerContract subclass provides the make_ledger fixture")

    @pytest.fixture
    def ledger(self, make_ledger):
        """The test's ledger, open, closed afterwards."""
        ledger = make_ledger()
        yield ledger
        ledger.close()

    # -- ingest ---------------------------------------------------------------------------

    def test_an_order_the_ledger_refuses_is_rejected_and_the_rest_of_its_page_goes_on(self, ledger):
        # A lone surrogate no backend can encode, a NUL PostgreSQL refuses (SQLite takes it as it is).
        refused = [dataclasses.replace(item(2), number="77\ud80001"), dataclasses.replace(item(3), status="pro\x00c")]
        counts = ledger.ingest([item(1), *refused, item(4)], now=NOW)
        assert counts["new"] + counts["rejected"] == 4 and counts["unstorable"] == 0
        assert [state(ledger, order_id) for order_id in (1, 4)] == ["pending", "pending"]
        row = ledger.delivery(2, "a")
        assert row["state"] == "rejected"
        assert "the ledger cannot store this order" in row["last_error"]
        assert ledger.order_history(2)["order"]["number"] == "77\\ud80001"  # stored escaped
        assert state(ledger, 3) in ("pending", "rejected")
        pending = [order_id for order_id in (1, 3, 4) if state(ledger, order_id) == "pending"]
        assert sorted(d.order_id for d in send_all(ledger)) == pending

    def test_an_order_not_even_its_rejection_can_store_is_left_out_and_counted(self, ledger):
        too_big = 2**63  # over the largest integer either backend stores
        counts = ledger.ingest([item(1), item(too_big), item(3)], now=NOW)
        assert counts["unstorable"] == 1 and counts["new"] == 2
        assert [state(ledger, order_id) for order_id in (1, 3)] == ["pending", "pending"]

    def test_new_order_is_pending_then_delivered(self, ledger):
        counts = ledger.ingest([item()], now=NOW)
        assert counts == {"new": 1, "changed": 0, "rejected": 0, "unchanged": 0, "skipped": 0, "unstorable": 0}
        assert state(ledger) == "pending"
        send_all(ledger, remote_id="318")
        row = ledger.delivery(1, "a")
        assert (row["state"], row["remote_id"], row["attempts"]) == ("delivered", "318", 1)

    def test_a_due_row_carries_its_payload_as_the_stored_text(self, ledger):
        payload = {"id": "7", "name": "বাংলা নাম", "products": [{"price": 42000, "count": 2}], "total": 84000}
        ledger.ingest([item(7, payload=payload)], now=NOW)
        (due,) = ledger.due("a", now=NOW, limit=10)
        assert due.payload.text == canonical_json(payload)  # byte for byte what is sent
        assert due.payload == payload and due.payload["name"] == "বাংলা নাম"
        (resent,) = ledger.prepare_resync(item(7, payload=payload), now=NOW)  # a manual resync: the same
        assert resent.payload.text == canonical_json(payload)

    def test_rereading_the_same_order_changes_nothing(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger)
        assert ledger.ingest([item(modified="2026-11-20T10:05:00")], now=NOW)["unchanged"] == 1
        assert state(ledger) == "delivered"
        assert ledger.due("a", now=NOW + 10, limit=10) == []

    def test_changed_order_after_delivery_goes_out_as_one_update(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger)
        ledger.ingest([item(payload={"id": "1", "total": 200})], now=NOW)
        due = ledger.due("a", now=NOW, limit=10)
        assert [(d.order_id, d.operation) for d in due] == [(1, "update")]

    def test_changed_order_on_a_platform_without_update_is_only_noted(self, ledger):
        ledger.ingest([item(supports_update=False)], now=NOW)
        send_all(ledger)
        ledger.ingest([item(payload={"id": "1", "total": 200}, supports_update=False)], now=NOW)
        row = ledger.delivery(1, "a")
        assert row["state"] == "delivered"
        assert "no update API" in row["note"]

    def test_rejected_order_comes_back_when_it_changes(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="rejected", message="422 phone invalid")
        assert state(ledger) == "rejected"
        assert ledger.ingest([item()], now=NOW)["unchanged"] == 1  # same payload: stays rejected
        ledger.ingest([item(payload={"id": "1", "total": 150})], now=NOW)
        assert state(ledger) == "pending"

    def test_local_rejection_is_recorded_with_its_reason(self, ledger):
        ledger.ingest([item(rejection="the order has no customer phone number")], now=NOW)
        row = ledger.delivery(1, "a")
        assert (row["state"], row["last_error"]) == ("rejected", "the order has no customer phone number")
        history = ledger.order_history(1)
        assert history["attempts"][0]["outcome"] == "rejected"

    def test_skipped_rows_are_counted_and_come_alive_when_the_order_qualifies(self, ledger):
        skipped = IngestItem(1, "1", "m1", "processing", [Mapped("a", None, rejection="no click id", skipped=True)])
        assert ledger.ingest([skipped], now=NOW)["skipped"] == 1
        assert state(ledger) == "skipped"
        assert ledger.summary()["counts"]["a"]["skipped"] == 1
        assert ledger.order_history(1)["attempts"] == []  # skipping is not an error
        ledger.ingest([item(modified="m2")], now=NOW)
        assert state(ledger) == "pending"

    def test_destinations_are_independent(self, ledger):
        mapped = [Mapped("a", {"x": 1}), Mapped("b", {"y": 1})]
        ledger.ingest([IngestItem(1, "1", "m", "processing", mapped)], now=NOW)
        send_all(ledger, dest="a")
        assert state(ledger, dest="a") == "delivered"
        assert state(ledger, dest="b") == "pending"

    def test_an_absorbed_write_is_not_an_edit(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger)
        # The daemon wrote a status into WooCommerce: a new modification stamp, a new payload.
        written = item(modified="2026-11-20T11:00:00", payload={"id": "1", "total": 100, "status": "completed"})
        ledger.absorb(written, now=NOW)
        assert ledger.known_modified([1]) == {1: "2026-11-20T11:00:00"}
        assert ledger.delivery(1, "a")["payload"] == {"id": "1", "total": 100, "status": "completed"}
        assert ledger.ingest([written], now=NOW)["unchanged"] == 1
        assert state(ledger) == "delivered"

    # -- delivery and retries -------------------------------------------------------------

    def test_retry_schedule_then_dead(self, ledger):
        ledger.ingest([item()], now=NOW)
        now = NOW
        for expected_delay in (5, 300, 1800):
            send_all(ledger, kind="retry", now=now, message="HTTP 503")
            row = ledger.delivery(1, "a")
            assert row["state"] == "retrying"
            assert row["next_attempt_at"] == pytest.approx(now + expected_delay)
            assert ledger.due("a", now=now + expected_delay - 1, limit=10) == []
            now += expected_delay
        send_all(ledger, kind="retry", now=now, message="HTTP 503")
        row = ledger.delivery(1, "a")
        assert row["state"] == "dead"
        assert row["last_error"] == "gave up after 4 attempts; last error: HTTP 503"

    def test_retry_after_is_honoured_when_longer(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="retry", retry_after=120, message="429")
        assert ledger.delivery(1, "a")["next_attempt_at"] == pytest.approx(NOW + 120)

    def test_connector_can_cap_attempts_below_the_schedule(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="retry", message="odd answer", max_attempts=2)
        assert state(ledger) == "retrying"
        send_all(ledger, kind="retry", now=NOW + 10, message="odd answer", max_attempts=2)
        assert state(ledger) == "dead"

    def test_the_attempt_log_keeps_the_error_and_the_row_says_it_gave_up(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="retry", message="odd answer", max_attempts=1)
        assert ledger.delivery(1, "a")["last_error"] == "gave up after 1 attempts; last error: odd answer"
        assert [a["message"] for a in ledger.order_history(1)["attempts"]] == ["odd answer"]
        assert ledger.destination("a")["last_error"] == "odd answer"

    def test_a_destinations_last_success_is_written_once_a_second_and_every_failure_at_once(self, ledger):
        from sync_daemon.ledger.deliveries import SUCCESS_NOTE_SECONDS

        def stamp(moment):
            return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")

        ledger.ingest([item(order_id) for order_id in range(1, 6)], now=NOW)
        for order_id, moment, kind in [(1, NOW, "delivered"), (2, NOW + 0.5, "delivered")]:
            send_one(ledger, order_id, kind, moment)
        assert ledger.destination("a")["last_success_at"] == stamp(NOW)  # 0.5 s later: not news yet
        send_one(ledger, 3, "retry", NOW + 0.6, message="HTTP 503")
        assert (ledger.destination("a")["last_error"], ledger.destination("a")["last_error_at"]) == (
            "HTTP 503", stamp(NOW + 0.6)
        )
        send_one(ledger, 4, "delivered", NOW + 0.7)  # the first success after a failure is news
        assert ledger.destination("a")["last_success_at"] == stamp(NOW + 0.7)
        send_one(ledger, 5, "delivered", NOW + 0.7 + SUCCESS_NOTE_SECONDS)
        assert ledger.destination("a")["last_success_at"] == stamp(NOW + 0.7 + SUCCESS_NOTE_SECONDS)
        assert [state(ledger, order_id) for order_id in range(1, 6)] == [
            "delivered", "delivered", "retrying", "delivered", "delivered"
        ]

    def test_a_retry_outcome_without_a_decision_is_refused(self, ledger):
        ledger.ingest([item()], now=NOW)
        due = ledger.due("a", now=NOW, limit=10)
        ledger.mark_sending(due, now=NOW)
        undecided = Outcome(1, "a", "retry", "create", payload_hash=due[0].payload_hash, message="HTTP 503")
        with pytest.raises(ValueError, match="retry decision"):
            ledger.record([undecided], now=NOW)
        assert state(ledger) == "sending"  # nothing of the batch was written
        assert ledger.order_history(1)["attempts"] == []

    def test_a_decision_is_stored_as_it_is(self, ledger):
        ledger.ingest([item()], now=NOW)
        due = ledger.due("a", now=NOW, limit=10)
        ledger.mark_sending(due, now=NOW)
        decided = dataclasses.replace(
            Outcome(1, "a", "retry", "create", message="HTTP 503"),
            attempts=7, retry_delay=42.0, last_error="HTTP 503 (seventh)",
        )
        ledger.record([decided], now=NOW)
        row = ledger.delivery(1, "a")
        assert (row["state"], row["attempts"], row["last_error"]) == ("retrying", 7, "HTTP 503 (seventh)")
        assert row["next_attempt_at"] == pytest.approx(NOW + 42)

    def test_paused_outcome_does_not_count_an_attempt(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="paused", retry_after=3600, message="401")
        row = ledger.delivery(1, "a")
        assert (row["state"], row["attempts"]) == ("pending", 0)
        assert row["next_attempt_at"] == pytest.approx(NOW + 3600)

    def test_interrupted_sending_rows_are_recovered(self, ledger):
        ledger.ingest([item(1), item(2)], now=NOW)
        ledger.mark_sending(ledger.due("a", now=NOW, limit=10), now=NOW)
        # After the longest a request may be out (a shared ledger keeps a live daemon's requests).
        later = NOW + ledger.lease_seconds + 1
        assert ledger.recover_interrupted(now=later) == 2
        assert [d.order_id for d in ledger.due("a", now=later, limit=10)] == [1, 2]

    def test_resync_prepares_a_rejected_row_for_sending(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="rejected", message="422")
        to_send = ledger.prepare_resync(item(), now=NOW)
        assert [(d.order_id, d.operation) for d in to_send] == [(1, "create")]
        assert state(ledger) == "sending"

    # -- cursor, pauses -------------------------------------------------------------------

    def test_cursor_only_moves_forward(self, ledger):
        later = datetime(2026, 11, 20, 10, tzinfo=UTC)
        ledger.set_cursor(later)
        ledger.set_cursor(datetime(2026, 11, 19, tzinfo=UTC))
        assert ledger.get_cursor() == later

    def test_pause_and_fingerprint_change_lifts_it(self, ledger):
        assert ledger.note_fingerprint("a", "one", now=NOW) is False
        ledger.pause_destination("a", kind="auth", reason="401", until=NOW + 3600, now=NOW)
        assert ledger.destination("a")["pause_kind"] == "auth"
        assert ledger.note_fingerprint("a", "one", now=NOW) is False
        assert ledger.destination("a")["pause_kind"] == "auth"
        assert ledger.note_fingerprint("a", "two", now=NOW) is True
        assert ledger.destination("a")["paused_until"] is None

    def test_lifted_pause_makes_the_rows_it_parked_due_now(self, ledger):
        ledger.note_fingerprint("a", "one", now=NOW)
        ledger.ingest([item(1), item(2)], now=NOW)
        send_all(ledger, kind="retry", message="503")  # order rows with a backoff of their own
        ledger.ingest([item(3)], now=NOW)
        ledger.pause_destination("a", kind="auth", reason="401", until=NOW + 3600, now=NOW)
        send_all(ledger, kind="paused", message="401", retry_after=3600)
        assert ledger.due("a", now=NOW + 1, limit=10) == []
        assert ledger.note_fingerprint("a", "two", now=NOW + 1) is True
        # The parked row goes out now; the rows backing off after a 503 keep their own schedule.
        assert [due.order_id for due in ledger.due("a", now=NOW + 1, limit=10)] == [3]

    def test_new_settings_without_a_pause_move_no_row(self, ledger):
        ledger.note_fingerprint("a", "one", now=NOW)
        ledger.ingest([item(1)], now=NOW)
        send_all(ledger, kind="skipped", retry_after=600)  # a throttle, which new settings do not cure
        ledger.pause_destination("a", kind="throttle", reason="429", until=NOW + 600, now=NOW)
        assert ledger.note_fingerprint("a", "two", now=NOW) is True
        assert ledger.destination("a")["pause_kind"] == "throttle"
        assert ledger.due("a", now=NOW + 1, limit=10) == []

    # -- tracking and write-back ----------------------------------------------------------

    def test_writeback_candidates_carry_the_labels_they_are_asked_for(self, ledger):
        order = IngestItem(1, "1", "m", "processing", [Mapped("repo", {"id": "1"})], tracking_id="T-1")
        ledger.ingest([order], now=NOW)
        send_all(ledger, dest="repo")
        ledger.update_remote_statuses("repo", [(1, "shipped", None)], now=NOW)
        ledger.record_tracking(1, shipment_status="in_transit", exception_status="delayed", carrier="Pathao",
                               tracking_number="PX1", done=False, now=NOW)
        found = ledger.writeback_candidates(delivery_sources=["repo"], tracking_sources=["tracker"])
        assert sorted((c["source"], c["remote_status"], c["is_exception"]) for c in found) == [
            ("repo", "shipped", 0), ("tracker", "exception:delayed", 1), ("tracker", "in_transit", 0),
        ]
        assert ledger.writeback_candidates(delivery_sources=["other"], tracking_sources=[]) == []
        ledger.record_writeback(1, [{"source": "tracker", "remote_status": "in_transit", "action": "note"}],
                                written_status=None, now=NOW)
        left = ledger.writeback_candidates(delivery_sources=["repo"], tracking_sources=["tracker"])
        assert sorted(c["remote_status"] for c in left) == ["exception:delayed", "shipped"]

    def test_tracking_named_finds_only_named_orders_still_followed(self, ledger):
        tracked = [IngestItem(n, str(n), "m", "processing", [], tracking_id=f"T-{n}") for n in (1, 2, 3, 4)]
        tracked.append(IngestItem(5, "5", "m", "processing", [], tracking_id="T-1"))  # two orders, one shipment
        ledger.ingest(tracked, now=NOW)
        ledger.ingest([IngestItem(6, "6", "m", "processing", [], tracking_id="T-6")], now=NOW - 40 * DAY)
        ledger.record_tracking(3, shipment_status="delivered", exception_status=None, carrier=None,
                               tracking_number=None, done=True, now=NOW)
        window = {"now": NOW, "max_age_seconds": 30 * DAY}
        assert ledger.tracking_named(["T-1", "T-2", "T-1"], **window) == [(1, "T-1"), (2, "T-2"), (5, "T-1")]
        # Delivered (done), too old, unknown: not read again, as the schedule would not read them either.
        assert ledger.tracking_named(["T-3", "T-6", "nope"], **window) == []
        assert ledger.tracking_named([], **window) == []
        many = [f"X-{n}" for n in range(1200)] + ["T-4"]  # more ids than one query takes
        assert ledger.tracking_named(many, **window) == [(4, "T-4")]

    # -- reports and durability -----------------------------------------------------------

    def test_summary_counts(self, ledger):
        ledger.ingest([item(1), item(2), item(3, rejection="no phone")], now=NOW)
        send_all(ledger)
        summary = ledger.summary()
        assert summary["counts"]["a"]["delivered"] == 2
        assert summary["counts"]["a"]["rejected"] == 1

    def test_problems_lists_rejected_dead_and_retrying_newest_first_with_reason_and_attempts(self, ledger):
        ledger.ingest([item(1, rejection="the order has no customer phone number")], now=NOW)
        ledger.ingest([item(2), item(3), item(4)], now=NOW)
        send_one(ledger, 2, "retry", NOW + 10, message="HTTP 503", max_attempts=1)  # dead
        send_one(ledger, 3, "retry", NOW + 20, message="HTTP 503")  # retrying
        send_one(ledger, 4, "delivered", NOW + 30)
        rows = ledger.problems()
        assert [(row["order_id"], row["state"]) for row in rows] == [(3, "retrying"), (2, "dead"), (1, "rejected")]
        assert rows[2]["last_error"] == "the order has no customer phone number"
        assert (rows[0]["attempts"], rows[0]["number"]) == (1, "3")
        assert rows[0]["next_attempt_at"].startswith("20")  # ISO text, like every time of a report
        assert [row["order_id"] for row in ledger.problems(["dead"])] == [2]
        assert [row["order_id"] for row in ledger.problems(since=NOW + 15)] == [3]
        assert [row["order_id"] for row in ledger.problems(limit=1)] == [3]
        assert ledger.problems(destination="b") == []
        assert [row["order_id"] for row in ledger.problems(["pending", "delivered"])] == [4]

    def test_reports_give_every_time_as_iso_text(self, ledger):
        ledger.ingest([item()], now=NOW)
        send_all(ledger, kind="retry", message="HTTP 503")
        row = ledger.order_history(1)["deliveries"][0]
        assert row["queued_at"].startswith("2027-01-15T08:00:00")
        assert row["next_attempt_at"].startswith("2027-01-15T08:00:05")
        ledger.pause_destination("a", until=NOW + 60, kind="outage", reason="HTTP 503 three times", now=NOW)
        destination = ledger.summary(now=NOW)["destinations"]["a"]
        assert "paused_until" not in destination
        assert destination["paused_until_at"].startswith("2027-01-15T08:01:00")

    def test_a_reopened_ledger_remembers_everything(self, make_ledger):
        first = make_ledger()
        first.ingest([item(1), item(2)], now=NOW)
        send_all(first)
        first.set_cursor(datetime(2026, 11, 20, 10, tzinfo=UTC))
        first.close()
        again = make_ledger()
        try:
            assert [state(again, order_id) for order_id in (1, 2)] == ["delivered", "delivered"]
            assert again.get_cursor() == datetime(2026, 11, 20, 10, tzinfo=UTC)
            assert again.summary()["orders_seen"] == 2
        finally:
            again.close()

    # -- retention ------------------------------------------------------------------------

    def test_old_finished_orders_go_whole_with_their_attempts_tracking_and_writebacks(self, ledger):
        finished(ledger, 1, tracking_id="T-1")
        ledger.record_tracking(1, shipment_status="delivered", exception_status=None, carrier=None,
                               tracking_number=None, done=True, now=OLD)
        ledger.record_writeback(1, [{"source": "t", "remote_status": "delivered", "action": "status x → y"}],
                                written_status="completed", now=OLD)
        finished(ledger, 2, kind="rejected")
        finished(ledger, 3, kind="retry")  # max_attempts=1: dead at once
        assert state(ledger, 3) == "dead"
        skipped = IngestItem(4, "4", "m4", "cancelled", [Mapped("a", None, rejection="no click id", skipped=True)])
        ledger.ingest([skipped], now=OLD)
        preview = ledger.prune_preview(older_than=CUTOFF, open_statuses=OPEN)
        assert preview.orders == 4 and preview.deliveries == {"delivered": 2, "rejected": 2, "dead": 2, "skipped": 1}
        assert (preview.attempts, preview.tracking, preview.writebacks) == (6, 1, 1)
        assert ledger.order_history(1) is not None  # a preview removes nothing
        removed = ledger.prune_batch(older_than=CUTOFF, open_statuses=OPEN, limit=500)
        assert removed.as_dict() == preview.as_dict()
        for order_id in (1, 2, 3, 4):
            assert ledger.order_history(order_id) is None
        summary = ledger.summary()
        assert (summary["orders_seen"], summary["counts"], summary["pruned_orders"]) == (0, {}, 4)
        assert ledger.writeback_candidates(delivery_sources=["a"], tracking_sources=["t"]) == []

    def test_nothing_unfinished_open_or_recent_is_pruned(self, ledger):
        ledger.ingest([IngestItem(1, "1", "m1", "completed", [Mapped("a", {"id": "1"})])], now=OLD)  # pending
        ledger.ingest([IngestItem(2, "2", "m2", "completed", [Mapped("a", {"id": "2"})])], now=OLD)
        ledger.mark_sending(ledger.due("a", now=OLD, limit=10)[1:], now=OLD)  # order 2 sending
        finished(ledger, 3, kind="retry", dests=("a",))
        ledger.record([POLICY.stamp(Outcome(3, "a", "retry", "create", message="503"), attempts_before=0)], now=OLD)
        finished(ledger, 4, status="processing")  # all delivered, but the order is still open in the shop
        finished(ledger, 5, status="shipped")  # open for this shop: a status it syncs
        finished(ledger, 6, at=NOW - 10 * DAY)  # finished recently
        finished(ledger, 7)  # old, but a platform's status was written back lately
        ledger.record_writeback(7, [{"source": "t", "remote_status": "done", "action": "noted", "note": "n"}],
                                written_status=None, now=NOW - DAY)
        finished(ledger, 8, tracking_id="T-8")  # old, but its shipment is still being followed
        ledger.record_tracking(8, shipment_status="in_transit", exception_status=None, carrier=None,
                               tracking_number=None, done=False, now=NOW - DAY)
        finished(ledger, 9)  # delivered long ago, read again from the shop lately
        ledger.ingest([IngestItem(9, "9", "m9", "completed", [Mapped("a", {"id": "9"}), Mapped("b", {"id": "9"})])],
                      now=NOW - DAY)
        finished(ledger, 10, dests=("a",))  # one row final, one still to send: the order stays whole
        ledger.ingest([IngestItem(10, "10", "m10b", "completed", [Mapped("a", {"id": "10"}), Mapped("b", {"x": 1})])],
                      now=OLD)
        finished(ledger, 11)  # the only one that goes
        assert state(ledger, 3) == "retrying" and state(ledger, 2) == "sending" and state(ledger, 10, "b") == "pending"
        assert ledger.prune_preview(older_than=CUTOFF, open_statuses=(*OPEN, "shipped")).orders == 1
        assert prune_all(ledger, open_statuses=(*OPEN, "shipped")) == [1]
        kept = [order_id for order_id in range(1, 12) if ledger.order_history(order_id) is not None]
        assert kept == list(range(1, 11))

    def test_the_cursor_meta_and_pauses_are_never_pruned(self, ledger):
        ledger.set_cursor(datetime(2026, 1, 1, tzinfo=UTC))
        ledger.set_meta(last_poll_result="ok")
        ledger.note_fingerprint("a", "one", now=OLD)
        ledger.pause_destination("a", kind="auth", reason="401", until=NOW + 3600, now=OLD)
        finished(ledger, 1)
        assert prune_all(ledger) == [1]
        assert ledger.get_cursor() == datetime(2026, 1, 1, tzinfo=UTC)
        assert ledger.get_meta("last_poll_result") == "ok"
        assert ledger.destination("a")["pause_kind"] == "auth"
        assert ledger.note_fingerprint("a", "one", now=NOW) is False  # the fingerprint is still known

    def test_batches_are_bounded_and_the_next_one_goes_on(self, ledger):
        for order_id in range(1, 8):
            finished(ledger, order_id, dests=("a",))
        assert prune_all(ledger, limit=3) == [3, 3, 1]
        assert ledger.summary()["orders_seen"] == 0
        assert ledger.summary()["pruned_orders"] == 7

    def test_a_pruned_order_read_again_is_a_new_order(self, ledger):
        # Why only closed orders go: read again in a status that is synced, it would be sent again.
        finished(ledger, 1, dests=("a",))
        prune_all(ledger)
        assert ledger.known_orders([1]) == {}
        assert ledger.ingest([item(1)], now=NOW)["new"] == 1

    def test_summary_reports_only_a_pause_still_in_force(self, ledger):
        ledger.pause_destination("a", kind="throttled", reason="rate limited (429); waiting 2 s", until=NOW + 2,
                                 now=NOW)
        during = ledger.summary(now=NOW + 1)["destinations"]["a"]
        assert (during["paused"], during["pause_kind"], during["paused_until_at"]) == (
            True, "throttled", iso_stamp(NOW + 2))
        after = ledger.summary(now=NOW + 3)["destinations"]["a"]
        assert (after["paused"], after["pause_kind"], after["pause_reason"], after["paused_until_at"]) == (
            False, None, None, None)
        assert after["last_error"] == "rate limited (429); waiting 2 s"  # what happened stays, as the last error
        assert ledger.destination("a")["pause_kind"] == "throttled"  # the record itself is left to the engine

    def test_summary_counts_only_write_backs_that_changed_the_order(self, ledger):
        for order_id in (1, 2, 3):
            ledger.ingest([item(order_id)], now=NOW)
        ledger.record_writeback(1, [{"source": "repo", "remote_status": "new", "action": "nothing to do",
                                     "note": None}], written_status=None, now=NOW)
        ledger.record_writeback(2, [{"source": "repo", "remote_status": "done", "action": "status processing →"
                                     " completed", "note": None}], written_status="completed", now=NOW)
        ledger.record_writeback(3, [{"source": "t", "remote_status": "in_transit", "action": "noted",
                                     "note": "Tracktor: in_transit"}], written_status=None, now=NOW)
        ledger.record_writeback(3, [{"source": "t", "remote_status": "picked", "action": "noted", "note": None}],
                                written_status=None, now=NOW)  # notes switched off: nothing was written
        ledger.record_writeback(3, [{"source": "t", "remote_status": "x", "action": "noted", "changed": True}],
                                written_status=None, now=NOW)  # meta written, as the writer says
        assert ledger.summary()["writebacks"] == 3
        assert len(ledger.writeback_history(1)) == 1  # "nothing to do" is still remembered

    # -- the outbox of receipts and rejection notes (schema version 6) ----------------------

    def test_a_delivery_queues_one_receipt_in_the_transaction_that_records_it(self, ledger):
        ledger.ingest([item(1), item(2)], now=NOW)
        send_all(ledger, remote_id="305")
        entries = ledger.unwritten(("receipt",), orders=100)
        assert [(e.order_id, e.destination, e.remote_id, e.tries) for e in entries] == [(1, "a", "305", 0),
                                                                                       (2, "a", "305", 0)]
        ledger.outbox_written(entries, now=NOW)
        ledger.ingest([item(1, payload={"id": "1", "total": 150})], now=NOW)
        send_all(ledger, remote_id="305")  # an update with the same remote id: already in the order
        assert ledger.unwritten(("receipt",), orders=100) == []
        ledger.ingest([item(1, payload={"id": "1", "total": 175})], now=NOW)
        send_all(ledger, remote_id="306")  # a new remote id: written again
        assert [(e.order_id, e.remote_id) for e in ledger.unwritten(("receipt",), orders=100)] == [(1, "306")]

    def test_each_rejection_queues_one_note_per_reason(self, ledger):
        ledger.ingest([item(1, rejection="the order has no customer phone number")], now=NOW)
        ledger.ingest([item(1, modified="m2", rejection="the order has no address")], now=NOW)
        ledger.ingest([item(1, modified="m3", rejection="the order has no customer phone number")], now=NOW)
        ledger.ingest([item(2)], now=NOW)
        send_all(ledger, kind="rejected", message="HTTP 422: phone is invalid")
        ledger.ingest([item(3)], now=NOW)
        send_all(ledger, kind="retry", message="HTTP 503", max_attempts=1)
        notes = [(e.order_id, e.kind, e.reason) for e in ledger.unwritten(("unmappable", "rejected", "dead"),
                                                                          orders=100)]
        assert notes == [(1, "unmappable", "the order has no address"),  # each reason once, in key order
                         (1, "unmappable", "the order has no customer phone number"),
                         (2, "rejected", "HTTP 422: phone is invalid"),
                         (3, "dead", "gave up after 1 attempts; last error: HTTP 503")]
        assert ledger.unwritten(("receipt",), orders=100) == []

    def test_outbox_entries_count_their_tries_and_stay_until_written(self, ledger):
        for order_id in (3, 1, 2):
            ledger.ingest([item(order_id)], now=NOW)
        send_all(ledger, remote_id="9")
        first = ledger.unwritten(("receipt",), orders=2)
        assert [e.order_id for e in first] == [1, 2]  # oldest order ids first, whole orders
        ledger.outbox_begun(first[:1])
        ledger.outbox_failed(first[:1], "HTTP 503")
        assert ledger.unwritten(("receipt",), orders=1)[0].tries == 1
        ledger.outbox_written(first, now=NOW)
        assert [e.order_id for e in ledger.unwritten(("receipt",), orders=100)] == [3]
        assert ledger.outbox_counts() == {"receipt": 1}

    def test_pruning_an_order_removes_its_outbox_entries(self, ledger):
        finished(ledger, 1)
        finished(ledger, 2, kind="rejected")
        assert ledger.outbox_counts() == {"receipt": 2, "rejected": 2}
        prune_all(ledger)
        assert ledger.outbox_counts() == {}
