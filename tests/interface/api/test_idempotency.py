"""Idempotency-Key on POST: one effect, one stored answer, replayed."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Follow
from catalog.queries import book as book_view
from messaging.models import IdempotentResponse, StoredEvent
from orders.models import Order
from tests.support.concurrency import run_concurrently
from tests.support.factories import AccountFactory, BookFactory, api_token

REGISTRATION = {"email": "carol@example.com", "username": "carol", "password": "correct-horse-battery"}


def test_a_repeated_request_replays_the_first_answer_without_a_second_effect(alice, bob, signed_in):
    client = signed_in(alice)

    first = client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")
    client.post(f"/api/v1/accounts/{bob.pk}/unfollow/")
    again = client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert not Follow.objects.exists()
    assert StoredEvent.objects.filter(type="AccountFollowed").count() == 1


def test_a_repeated_registration_replays_202_and_creates_one_account(db, anonymous):
    first = anonymous.post("/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1")
    again = anonymous.post("/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1")

    assert (again.status_code, again.json()) == (202, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert Account.objects.count() == 1


def test_a_refusal_is_replayed_too(alice, signed_in):
    client = signed_in(alice)

    first = client.post(f"/api/v1/accounts/{alice.pk}/follow/", HTTP_IDEMPOTENCY_KEY="self")
    again = client.post(f"/api/v1/accounts/{alice.pk}/follow/", HTTP_IDEMPOTENCY_KEY="self")

    assert (again.status_code, again.json()) == (409, first.json())
    assert again["Idempotent-Replayed"] == "true"


def test_the_same_key_with_a_different_body_answers_422(db, anonymous):
    anonymous.post("/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1")

    response = anonymous.post(
        "/api/v1/accounts/", {**REGISTRATION, "username": "carla"}, format="json", HTTP_IDEMPOTENCY_KEY="signup-1"
    )

    assert (response.status_code, response.data["code"]) == (422, "idempotency_key_reused")
    assert Account.objects.count() == 1


def test_the_same_key_on_another_path_answers_422(alice, bob, signed_in):
    client = signed_in(alice)
    client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")

    response = client.post(f"/api/v1/accounts/{bob.pk}/block/", HTTP_IDEMPOTENCY_KEY="k1")

    assert (response.status_code, response.data["code"]) == (422, "idempotency_key_reused")
    assert not StoredEvent.objects.filter(type="AccountBlocked").exists()


def test_a_key_belongs_to_its_user(alice, bob, signed_in):
    carol = AccountFactory(username="carol")

    signed_in(alice).post(f"/api/v1/accounts/{carol.pk}/follow/", HTTP_IDEMPOTENCY_KEY="same")
    response = signed_in(bob).post(f"/api/v1/accounts/{carol.pk}/follow/", HTTP_IDEMPOTENCY_KEY="same")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Follow.objects.filter(followee=carol).count() == 2


def test_signed_out_callers_keys_never_collide(db):
    # given: a stranger registered with a key
    APIClient(REMOTE_ADDR="203.0.113.7").post(
        "/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1"
    )

    # when: someone else, elsewhere, registers with the same key
    other = APIClient(REMOTE_ADDR="198.51.100.20").post(
        "/api/v1/accounts/",
        {**REGISTRATION, "email": "dan@example.com", "username": "dan"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="signup-1",
    )

    # then
    assert other.status_code == 202 and "Idempotent-Replayed" not in other
    assert Account.objects.count() == 2


def test_a_signed_out_callers_answer_is_never_replayed_to_another(db):
    APIClient(REMOTE_ADDR="203.0.113.7").post(
        "/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1"
    )

    again = APIClient(REMOTE_ADDR="198.51.100.20").post(
        "/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup-1"
    )

    # the second is a sign-up of its own, not a replay: its username is taken (usernames are public)
    assert (again.status_code, again.json()["code"]) == (409, "username_taken") and "Idempotent-Replayed" not in again
    assert "carol@example.com" not in again.content.decode()
    assert Account.objects.count() == 1


def test_without_a_key_nothing_is_stored(alice, bob, signed_in):
    signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/")

    assert not IdempotentResponse.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_a_malformed_key_answers_400(alice, bob, signed_in, key):
    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["fields"]
    assert not Follow.objects.exists()


def test_an_answer_lost_after_the_commit_is_rendered_once_by_the_retry(alice, bob, signed_in, settings):
    # given: the first request committed its effect but died before storing its answer
    settings.API_IDEMPOTENCY_WAIT_SECONDS = 0.1
    client = signed_in(alice)
    client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")
    IdempotentResponse.objects.all().delete()

    # when
    retry = client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(f"/api/v1/accounts/{bob.pk}/follow/", HTTP_IDEMPOTENCY_KEY="k1")

    # then
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert again.content == retry.content
    assert Follow.objects.count() == 1
    assert StoredEvent.objects.filter(type="AccountFollowed").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_have_one_effect_and_one_answer():
    # given
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    token = api_token(alice)

    def follow():
        return APIClient().post(
            f"/api/v1/accounts/{bob.pk}/follow/", HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY="race"
        )

    # when
    responses = run_concurrently([follow] * 6)

    # then
    assert {(response.status_code, response.content) for response in responses} == {(201, responses[0].content)}
    assert sum("Idempotent-Replayed" not in response for response in responses) == 1
    assert Follow.objects.count() == 1
    assert StoredEvent.objects.filter(type="AccountFollowed").count() == 1
    assert IdempotentResponse.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_with_the_same_key_create_one_account():
    def register():
        return APIClient().post("/api/v1/accounts/", REGISTRATION, format="json", HTTP_IDEMPOTENCY_KEY="signup")

    responses = run_concurrently([register] * 4)

    assert [response.status_code for response in responses] == [202] * 4
    assert len({response.content for response in responses}) == 1
    assert Account.objects.count() == 1


def test_a_repeated_order_is_placed_once_and_holds_its_copies_once(alice, signed_in):
    book = BookFactory(inventory__on_hand=5)
    body = {"items": [{"book_id": str(book.pk), "quantity": 2}]}
    client = signed_in(alice)

    first = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert (first.status_code, again.status_code, again.content) == (201, 201, first.content)
    assert Order.objects.count() == 1
    assert book_view(book.pk).available == 3
