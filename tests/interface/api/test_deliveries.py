"""deliveries/: the outbox for staff, and retrying or discarding a dead letter."""

import pytest

from messaging.models import Delivery
from messaging.testing import relay
from tests.support.dead_letters import POLICY
from tests.support.lag import IN_DATABASE, OUTSIDE

pytestmark = pytest.mark.django_db


def test_staff_find_a_dead_letter_by_status_and_policy(dead, staff, signed_in):
    response = signed_in(staff).get("/api/v1/deliveries/", {"status": "dead", "policy": POLICY})

    assert response.status_code == 200
    assert response.data["count"] == 1
    (row,) = response.data["results"]
    assert set(row) == {
        "id", "status", "policy", "event_type", "event_id", "correlation_id", "attempts", "outside",
        "created_at", "next_attempt_at", "delivered_at", "last_error", "trace", "duration_ms",
    }  # fmt: skip
    assert (row["id"], row["status"], row["event_type"], row["attempts"]) == (dead.row.pk, "dead", "AccountFollowed", 1)
    assert row["last_error"] == "ConnectionError: the notification service is down"
    assert row["trace"] == f"/trace/{dead.row.event.correlation_id}/"


def test_the_list_filters_by_several_statuses_type_age_and_correlation_id(dead, staff, signed_in):
    client = signed_in(staff)
    correlation_id = str(dead.row.event.correlation_id)

    def ids(**query):
        return [row["id"] for row in client.get("/api/v1/deliveries/", query).data["results"]]

    every = ids()
    assert ids(status=["dead", "done"]) == every  # newest first; the follow's own policy is done
    assert ids(event_type="AccountFollowed", correlation_id=correlation_id) == every
    assert ids(event_type="OrderShipped") == []
    assert ids(older_than="1h") == []
    assert every[0] == dead.row.pk


@pytest.mark.parametrize(
    "query", [{"status": "lost"}, {"older_than": "soon"}, {"older_than": "99999d"}, {"correlation_id": "12"}]
)
def test_bad_filters_answer_400_naming_the_field(staff, signed_in, query):
    response = signed_in(staff).get("/api/v1/deliveries/", query)

    assert response.status_code == 400
    assert set(response.data["fields"]) == set(query)


def test_one_delivery_shows_its_event_payload(dead, staff, signed_in):
    response = signed_in(staff).get(f"/api/v1/deliveries/{dead.row.pk}/")

    assert response.status_code == 200
    assert response.data["payload"] == dead.row.event.payload


def test_a_retry_queues_the_dead_letter_for_the_relay_without_running_it_in_the_request(dead, staff, signed_in):
    # given
    dead.service.fix()
    client = signed_in(staff)

    # when
    retried = client.post(f"/api/v1/deliveries/{dead.row.pk}/retry/")
    again = client.post(f"/api/v1/deliveries/{dead.row.pk}/retry/")

    # then: reopened with fresh attempts, nothing run in the request
    assert (retried.status_code, retried.data["status"], retried.data["attempts"]) == (200, "pending", 0)
    assert dead.service.handled == []
    assert (again.status_code, again.data) == (
        409, {"code": "not_retryable", "detail": f"delivery {dead.row.pk} is pending, not failed or dead-lettered"},
    )  # fmt: skip
    # and the relay delivers it, once
    relay()
    relay()
    assert dead.service.handled == [dead.row.event_id]
    assert Delivery.objects.get(pk=dead.row.pk).status == Delivery.Status.DONE


def test_discard_keeps_the_row_marked_discarded(dead, staff, signed_in):
    client = signed_in(staff)

    response = client.post(f"/api/v1/deliveries/{dead.row.pk}/discard/")

    assert (response.status_code, response.data["status"]) == (200, "discarded")
    assert Delivery.objects.get(pk=dead.row.pk).status == Delivery.Status.DISCARDED
    assert client.get("/api/v1/deliveries/", {"status": "dead"}).data["count"] == 0
    assert client.post(f"/api/v1/deliveries/{dead.row.pk}/discard/").data["code"] == "not_dead_lettered"
    assert dead.service.handled == []


@pytest.mark.parametrize("path", ["/api/v1/deliveries/999999/", "/api/v1/deliveries/999999/retry/"])
def test_an_unknown_delivery_answers_404(staff, signed_in, path):
    client = signed_in(staff)

    response = client.get(path) if path.endswith("999999/") else client.post(path)

    assert (response.status_code, response.data["code"]) == (404, "not_found")


def test_staff_see_the_lag_per_policy_and_lane(lagging, staff, signed_in):
    response = signed_in(staff).get("/api/v1/deliveries/lag/")

    assert response.status_code == 200
    rows = {(row["policy"], row["lane"]): row for row in response.data}
    assert set(rows) == {(IN_DATABASE, "database"), (OUTSIDE, "outside")}
    database = rows[IN_DATABASE, "database"]
    assert (database["waiting"], database["failed"], database["due"], database["held"]) == (2, 1, 1, 0)
    assert 120 <= database["oldest_due_seconds"] < 130
    assert (rows[OUTSIDE, "outside"]["held"], rows[OUTSIDE, "outside"]["per_minute"]) == (1, 0.2)


def test_a_customer_may_not_see_the_lag(lagging, alice, signed_in):
    assert signed_in(alice).get("/api/v1/deliveries/lag/").status_code == 403
