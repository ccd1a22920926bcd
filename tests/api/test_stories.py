"""The workshop story, told through HTTP only, with real commits so the
policies run as they do in production: before the response is sent."""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import AccountFactory

PASSWORD = "correct-horse-battery"


def sign_up(username: str) -> tuple[APIClient, str]:
    client = APIClient()
    account = client.post(
        "/api/v1/accounts/",
        {"email": f"{username}@example.com", "username": username, "password": PASSWORD},
        format="json",
    )
    assert account.status_code == 201, account.data
    token = client.post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.data['token']}")
    return client, account.data["id"]


@pytest.mark.django_db(transaction=True)
def test_alice_follows_bob_bob_blocks_alice_and_alice_cannot_follow_again():
    # given
    alice, _ = sign_up("alice")
    bob, bob_id = sign_up("bob")
    assert alice.post(f"/api/v1/accounts/{bob_id}/follow/").status_code == 201
    alice_id = alice.get("/api/v1/accounts/me/").data["id"]
    assert bob.get(f"/api/v1/accounts/{bob_id}/").data["followers_count"] == 1

    # when
    correlation_id = str(uuid.uuid4())
    block = bob.post(f"/api/v1/accounts/{alice_id}/block/", HTTP_X_CORRELATION_ID=correlation_id)

    # then: the follow is gone by the time the answer arrives
    assert block.status_code == 201
    assert block.data == {"following": False, "followed_by": False, "blocking": True, "blocked_by": False}
    assert alice.get(f"/api/v1/accounts/{bob_id}/").data["followers_count"] == 0
    refused = alice.post(f"/api/v1/accounts/{bob_id}/follow/")
    assert (refused.status_code, refused.data["code"]) == (409, "blocked")

    # and the event log tells why, one correlation id for the whole cascade
    staff = APIClient()
    staff.force_authenticate(AccountFactory(is_staff=True))
    events = staff.get("/api/v1/events/", {"correlation_id": correlation_id}).data["results"]
    assert [event["type"] for event in events] == ["AccountBlocked", "FollowRemoved"]
    assert events[1]["causation_id"] == events[0]["id"]
    assert events[1]["payload"]["reason"] == "blocked"


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_account_loses_its_follows_and_its_token():
    # given
    alice, alice_id = sign_up("alice")
    bob, bob_id = sign_up("bob")
    alice.post(f"/api/v1/accounts/{bob_id}/follow/")
    bob.post(f"/api/v1/accounts/{alice_id}/follow/")

    # when
    deactivated = alice.post("/api/v1/accounts/me/deactivate/")

    # then
    assert deactivated.status_code == 200
    assert (deactivated.data["followers_count"], deactivated.data["following_count"]) == (0, 0)
    assert bob.get(f"/api/v1/accounts/{bob_id}/").data["followers_count"] == 0
    assert alice.get("/api/v1/accounts/me/").status_code == 401
