"""The workshop and bookshelf stories, told through HTTP only, with real
commits so the policies run as they do in production: before the response
is sent."""

import io
import re

import pytest
from django.core import mail as mail_outbox
from django.core.management import call_command
from rest_framework.test import APIClient

from messaging.testing import relay
from tests.support.factories import AccountFactory

PASSWORD = "correct-horse-battery"


def sign_up(username: str) -> tuple[APIClient, str]:
    """Sign up, then verify the address with the link the relay mails to it."""
    email = f"{username}@example.com"
    answer = APIClient().post(
        "/api/v1/accounts/", {"email": email, "username": username, "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 202, answer.data
    relay()
    [link] = [mail.body for mail in mail_outbox.outbox if mail.to == [email]]
    token = re.search(r"/verify-email/([^/\s]+)/", link)[1]
    verified = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json")
    assert verified.status_code == 200, verified.data
    return sign_in(username, PASSWORD), verified.data["id"]


def sign_in(username: str, password: str) -> APIClient:
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.data['token']}")
    return client


@pytest.mark.django_db(transaction=True)
def test_alice_follows_bob_bob_blocks_alice_and_alice_cannot_follow_again():
    # given
    alice, _ = sign_up("alice")
    bob, bob_id = sign_up("bob")
    assert alice.post(f"/api/v1/accounts/{bob_id}/follow/").status_code == 201
    alice_id = alice.get("/api/v1/accounts/me/").data["id"]
    assert bob.get(f"/api/v1/accounts/{bob_id}/").data["followers_count"] == 1

    # when
    block = bob.post(f"/api/v1/accounts/{alice_id}/block/")
    correlation_id = block["X-Correlation-ID"]

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


@pytest.mark.django_db(transaction=True)
def test_a_book_is_added_ordered_confirmed_shipped_and_another_order_cancelled(mailoutbox, monkeypatch):
    # given: the shop's operator (made as production makes staff) and a customer
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "operator-password")
    call_command(
        "createsuperuser", "--noinput", username="operator", email="operator@example.com", stdout=io.StringIO()
    )
    staff = sign_in("operator", "operator-password")
    alice, _ = sign_up("alice")

    # a book is added: it is in stock when the answer arrives
    gatsby = staff.post(
        "/api/v1/books/",
        {"title": "The Great Gatsby", "author": "F. Scott Fitzgerald", "isbn": "0-7432-7356-7", "price": "12.99"},
        format="json",
    )
    assert (gatsby.status_code, gatsby.data["stock"], gatsby.data["isbn"]) == (201, 10, "9780743273565")
    book_url = f"/api/v1/books/{gatsby.data['id']}/"

    # alice finds it and orders two copies: they are held for her
    assert APIClient().get("/api/v1/books/").data["results"][0]["title"] == "The Great Gatsby"
    placed = alice.post("/api/v1/orders/", {"items": [{"book_id": gatsby.data["id"], "quantity": 2}]}, format="json")
    assert (placed.status_code, placed.data["status"], placed.data["total"]) == (201, "PENDING", "25.98")
    order_url = f"/api/v1/orders/{placed.data['id']}/"
    assert APIClient().get(book_url).data["stock"] == 8

    # the shop confirms and ships: a mail each time
    assert staff.post(f"{order_url}confirm/").data["status"] == "CONFIRMED"
    assert staff.post(f"{order_url}ship/").data["status"] == "SHIPPED"
    relay()  # a relay worker sends the mails, after the answers
    assert [mail.subject for mail in mailoutbox][0] == "Confirm your e-mail address"  # her sign-up's
    assert [mail.to for mail in mailoutbox[1:]] == [["alice@example.com"], ["alice@example.com"]]
    assert alice.get(order_url).data["status"] == "SHIPPED"

    # a second order, cancelled: its copies are back on sale when the answer arrives
    second = alice.post("/api/v1/orders/", {"items": [{"book_id": gatsby.data["id"], "quantity": 3}]}, format="json")
    assert APIClient().get(book_url).data["stock"] == 5
    cancelled = alice.post(f"/api/v1/orders/{second.data['id']}/cancel/")
    assert (cancelled.status_code, cancelled.data["status"]) == (200, "CANCELLED")
    assert APIClient().get(book_url).data["stock"] == 8
    assert [row["status"] for row in alice.get("/api/v1/orders/").data["results"]] == ["CANCELLED", "SHIPPED"]
