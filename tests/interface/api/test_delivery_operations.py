"""deliveries/: an operator's operations through the API, for staff: retry
now, skip with a reason, discard, one delivery by id or many by policy and
time window (with a dry run), each recorded with the staff member as actor."""

import pytest
from django.utils import timezone

from tests.support.troubled import POLICY

pytestmark = pytest.mark.django_db


def test_retry_now_makes_a_failed_delivery_due_at_once_and_records_who(troubled, staff, signed_in):
    response = signed_in(staff).post(f"/api/v1/deliveries/{troubled.failed.pk}/retry/")

    row = troubled.fresh("failed")
    assert (response.status_code, response.data["status"], response.data["attempts"]) == (200, "failed", 1)
    assert row.next_attempt_at <= timezone.now()  # due at once, not in 10 minutes
    (recorded,) = troubled.recorded("DeliveriesRetried")
    assert (recorded.payload["delivery_ids"], recorded.actor_id) == ([troubled.failed.pk], staff.pk)
    assert troubled.ran == []  # the relay runs it, never this request


def test_skip_needs_a_reason_and_settles_a_waiting_delivery(troubled, staff, signed_in):
    client = signed_in(staff)

    unexplained = client.post(f"/api/v1/deliveries/{troubled.dead.pk}/skip/", {}, format="json")
    skipped = client.post(f"/api/v1/deliveries/{troubled.dead.pk}/skip/", {"reason": "refunded"}, format="json")
    again = client.post(f"/api/v1/deliveries/{troubled.dead.pk}/skip/", {"reason": "refunded"}, format="json")

    assert (unexplained.status_code, list(unexplained.data["fields"])) == (400, ["reason"])
    assert (skipped.status_code, skipped.data["status"]) == (200, "skipped")
    assert skipped.data["last_error"] == "skipped by operator: refunded"
    assert (again.status_code, again.data["code"]) == (409, "not_skippable")
    (recorded,) = troubled.recorded("DeliveriesSkipped")
    assert (recorded.actor_id, recorded.payload["origin"]) == (staff.pk, "")  # the staff member, no shell


def test_discard_of_a_delivery_that_is_not_dead_is_refused(troubled, staff, signed_in):
    response = signed_in(staff).post(f"/api/v1/deliveries/{troubled.failed.pk}/discard/")

    assert (response.status_code, response.data["code"]) == (409, "not_dead_lettered")
    assert troubled.fresh("failed").status == "failed"


def test_a_dry_run_by_policy_and_window_counts_and_samples_changing_nothing(troubled, staff, signed_in):
    response = signed_in(staff).post(
        "/api/v1/deliveries/retry/", {"policy": POLICY, "since": "2h", "dry_run": True}, format="json"
    )

    assert response.status_code == 200
    assert (response.data["matched"], response.data["acted"], response.data["remaining"]) == (2, [], 2)
    assert [row["id"] for row in response.data["sample"]] == [troubled.failed.pk, troubled.dead.pk]
    assert (troubled.fresh("failed").status, troubled.fresh("dead").status) == ("failed", "dead")
    assert troubled.recorded("DeliveriesRetried") == []


def test_retry_by_policy_and_window_in_bounded_requests(troubled, staff, signed_in):
    client = signed_in(staff)

    first = client.post("/api/v1/deliveries/retry/", {"policy": POLICY, "since": "2h", "limit": 1}, format="json")
    second = client.post("/api/v1/deliveries/retry/", {"policy": POLICY, "since": "2h"}, format="json")

    assert (first.data["acted"], first.data["remaining"]) == ([troubled.failed.pk], 1)
    assert (second.data["acted"], second.data["remaining"]) == ([troubled.dead.pk], 0)
    assert troubled.fresh("dead").status == "pending"  # fresh attempts, for the relay
    assert troubled.fresh("old_dead").status == "dead"  # opened 3h ago: outside the window
    recorded = troubled.recorded("DeliveriesRetried")
    assert [str(event.event_id) for event in recorded] == [*map(str, first.data["events"] + second.data["events"])]
    assert {event.actor_id for event in recorded} == {staff.pk}


def test_discard_and_skip_by_window(troubled, staff, signed_in):
    client = signed_in(staff)

    discarded = client.post("/api/v1/deliveries/discard/", {"policy": POLICY, "until": "1h"}, format="json")
    unexplained = client.post("/api/v1/deliveries/skip/", {"policy": POLICY}, format="json")
    skipped = client.post("/api/v1/deliveries/skip/", {"policy": POLICY, "reason": "outage"}, format="json")

    assert discarded.data["acted"] == [troubled.old_dead.pk]
    assert (unexplained.status_code, list(unexplained.data["fields"])) == (400, ["reason"])
    assert sorted(skipped.data["acted"]) == sorted([troubled.pending.pk, troubled.failed.pk, troubled.dead.pk])
    assert troubled.fresh("done").status == "done"


@pytest.mark.parametrize(
    "body", [{}, {"since": "soon"}, {"policy": POLICY, "limit": 0}, {"policy": POLICY, "until": "2026-13-45"}]
)
def test_an_unselective_or_malformed_operation_answers_400(troubled, staff, signed_in, body):
    response = signed_in(staff).post("/api/v1/deliveries/discard/", body, format="json")

    assert response.status_code == 400
    assert troubled.fresh("dead").status == "dead"


def test_a_repeated_operation_with_its_idempotency_key_gets_the_first_answer(troubled, staff, signed_in):
    client = signed_in(staff)
    body = {"policy": POLICY, "until": "1h"}

    first = client.post("/api/v1/deliveries/discard/", body, format="json", HTTP_IDEMPOTENCY_KEY="discard-old")
    again = client.post("/api/v1/deliveries/discard/", body, format="json", HTTP_IDEMPOTENCY_KEY="discard-old")
    other = client.post(
        "/api/v1/deliveries/discard/", {"policy": POLICY}, format="json", HTTP_IDEMPOTENCY_KEY="discard-old"
    )

    assert first.data["acted"] == [troubled.old_dead.pk]
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (200, first.json(), "true")
    assert (other.status_code, other.data["code"]) == (422, "idempotency_key_reused")
    assert len(troubled.recorded("DeliveriesDiscarded")) == 1
