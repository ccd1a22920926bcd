"""GET events/: the stored log, for staff."""

import uuid

from accounts.commands import FollowAccount
from messaging import bus


def test_staff_read_the_events_of_one_correlation_id_and_type(alice, bob, staff, signed_in):
    # given
    mine = uuid.uuid4()
    bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk, correlation_id=mine))
    bus.dispatch(FollowAccount(follower_id=bob.pk, followee_id=alice.pk))

    # when
    response = signed_in(staff).get("/api/v1/events/", {"correlation_id": str(mine), "type": "AccountFollowed"})

    # then
    assert response.status_code == 200
    assert response.data["count"] == 1
    (event,) = response.data["results"]
    assert set(event) == {
        "id",
        "type",
        "version",
        "occurred_at",
        "payload",
        "command_id",
        "correlation_id",
        "causation_id",
        "command_duration_ms",
    }
    assert (event["type"], event["correlation_id"], event["causation_id"]) == ("AccountFollowed", str(mine), None)
    assert event["payload"] == {"follower_id": str(alice.pk), "followee_id": str(bob.pk)}


def test_the_log_is_paginated_oldest_first(alice, bob, staff, signed_in):
    for _ in range(3):
        bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=alice.pk))

    response = signed_in(staff).get("/api/v1/events/", {"page_size": 2})

    assert (response.data["count"], len(response.data["results"])) == (3, 2)
    assert response.data["next"]
