"""X-Correlation-ID: in from the client, onto the commands, out on every response."""

import uuid

import pytest

from messaging.models import StoredEvent


def test_a_given_correlation_id_is_sent_back_and_carried_by_the_events(alice, bob, signed_in):
    correlation_id = str(uuid.uuid4())

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_X_CORRELATION_ID=correlation_id)

    assert response["X-Correlation-ID"] == correlation_id
    assert StoredEvent.objects.get(type="AccountFollowed").correlation_id == uuid.UUID(correlation_id)


@pytest.mark.parametrize("given", [None, "not-a-uuid", "x" * 500])
def test_without_a_valid_one_a_new_correlation_id_is_made(alice, bob, signed_in, given):
    headers = {} if given is None else {"HTTP_X_CORRELATION_ID": given}

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", **headers)

    made = uuid.UUID(response["X-Correlation-ID"])
    assert StoredEvent.objects.get(type="AccountFollowed").correlation_id == made


@pytest.mark.parametrize("path", ["/api/v1/accounts/me/", "/api/v1/schema/", "/api/v1/nowhere/"])
def test_every_response_carries_one(db, anonymous, path):
    response = anonymous.get(path)

    uuid.UUID(response["X-Correlation-ID"])
