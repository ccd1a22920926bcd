"""X-Correlation-ID: in from the client, onto the commands, out on every response."""

import uuid

import pytest

from messaging.models import StoredEvent


def test_a_clients_correlation_id_is_kept_beside_ours_never_taken_for_it(alice, bob, signed_in):
    # given
    theirs = str(uuid.uuid4())

    # when
    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_X_CORRELATION_ID=theirs)

    # then: the events carry ours, and the client is told both
    ours = uuid.UUID(response["X-Correlation-ID"])
    assert ours != uuid.UUID(theirs)
    assert response["X-Client-Correlation-ID"] == theirs
    assert StoredEvent.objects.get(type="AccountFollowed").correlation_id == ours


def test_two_strangers_sending_one_id_get_a_trace_each(alice, bob, signed_in):
    shared = str(uuid.uuid4())

    signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_X_CORRELATION_ID=shared)
    signed_in(bob).post(f"/api/v1/accounts/{alice.pk}/follow/", HTTP_X_CORRELATION_ID=shared)

    assert StoredEvent.objects.filter(type="AccountFollowed").values("correlation_id").distinct().count() == 2


def test_a_client_id_a_log_line_could_be_forged_with_is_not_kept(alice, bob, signed_in):
    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_X_CORRELATION_ID="a b\nINFO forged")

    assert "X-Client-Correlation-ID" not in response


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
