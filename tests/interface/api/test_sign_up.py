"""Signing up through the API says nothing of who has an account: a new
e-mail and a taken one get the same 202 (a link to verify the new address,
a mail to the owner of the taken one); a taken username is said. An
unverified account gets a token and reads, but orders nothing until its
owner follows the link; the link can be mailed again, throttled."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from interfaces.throttles import VerificationMailThrottle
from messaging.models import StoredEvent
from messaging.testing import relay
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db(transaction=True)

SIGN_UP = "/api/v1/accounts/"
LINK = re.compile(r"http://testserver/verify-email/([^/\s]+)/")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"


def carol(**fields):
    return {"email": "carol@example.com", "username": "carol", "password": "correct-horse-battery", **fields}


def token_of(client: APIClient, username: str) -> str:
    answer = client.post("/api/v1/auth/token/", {"username": username, "password": "correct-horse-battery"})
    assert answer.status_code == 200, answer.content
    return answer.json()["token"]


def test_a_taken_email_gets_the_same_answer_as_a_new_one_and_its_owner_a_mail(mailoutbox):
    # given Alice's address in use
    AccountFactory(username="alice", email="alice@example.com")

    # when Carol signs up, and someone signs up with Alice's address
    new = APIClient().post(SIGN_UP, carol(), format="json")
    taken = APIClient().post(SIGN_UP, carol(email="Alice@Example.com", username="mallory"), format="json")
    relay()

    # then both answers are the same, byte for byte
    assert new.status_code == taken.status_code == 202
    assert new.content == taken.content and set(new.json()) == {"detail"}
    # and only Carol's account exists, unverified; Alice was told by mail, Carol got her link
    assert set(Account.objects.values_list("username", flat=True)) == {"alice", "carol"}
    assert not Account.objects.get(username="carol").email_verified
    to = {mail.subject: mail.to for mail in mailoutbox}
    assert to == {
        "Confirm your e-mail address": ["carol@example.com"],
        "Someone tried to sign up with your address": ["alice@example.com"],
    }


def test_a_taken_username_is_said():
    AccountFactory(username="alice")

    answer = APIClient().post(SIGN_UP, carol(username="ALICE"), format="json")

    assert answer.status_code == 409 and answer.json()["code"] == "username_taken"


def test_the_mailed_link_verifies_the_address_and_then_orders_are_taken(mailoutbox):
    # given Carol signed up and has a token, before verifying
    APIClient().post(SIGN_UP, carol(), format="json")
    relay()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_of(APIClient(), 'carol')}")
    me = client.get("/api/v1/accounts/me/").json()
    assert me["email_verified"] is False
    order = {"items": [{"book_id": str(BookFactory().pk), "quantity": 1}]}
    refused = client.post("/api/v1/orders/", order, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "email_not_verified"

    # when she sends the token of the link in her mail
    [mail] = mailoutbox
    token = LINK.search(mail.body)[1]
    verified = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json")

    # then her address is verified, and her order is taken
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    assert client.post("/api/v1/orders/", order, format="json").status_code == 201
    again = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json")
    assert again.status_code == 200  # verifying twice changes nothing


@pytest.mark.parametrize("token", ["forged", "a" * 500, ""])
def test_a_forged_token_verifies_nothing(token):
    APIClient().post(SIGN_UP, carol(), format="json")

    answer = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json")

    assert answer.status_code == 400 and "token" in answer.json()["fields"]
    assert not Account.objects.get(username="carol").email_verified


def test_an_expired_link_verifies_nothing(mailoutbox, settings):
    APIClient().post(SIGN_UP, carol(), format="json")
    relay()
    settings.EMAIL_VERIFICATION_TIMEOUT = -1

    token = LINK.search(mailoutbox[0].body)[1]
    answer = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json")

    assert answer.status_code == 400


def test_another_link_can_be_mailed_throttled_per_person(mailoutbox, monkeypatch):
    monkeypatch.setitem(VerificationMailThrottle.THROTTLE_RATES, "verification", "2/hour")
    APIClient().post(SIGN_UP, carol(), format="json")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_of(APIClient(), 'carol')}")

    answers = [client.post("/api/v1/accounts/me/verification/").status_code for _ in range(3)]
    relay()

    assert answers == [202, 202, 429]
    assert [mail.subject for mail in mailoutbox] == ["Confirm your e-mail address"] * 3  # sign-up's and two more


def test_one_inbox_gets_at_most_the_cap_of_sign_up_attempt_mails_from_any_address(mailoutbox, settings):
    settings.SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT = 2
    AccountFactory(username="alice", email="alice@example.com")

    answers = [
        APIClient(REMOTE_ADDR=f"192.0.2.{n + 1}").post(
            SIGN_UP, carol(email="alice@example.com", username=f"mallory{n}"), format="json"
        )
        for n in range(4)
    ]
    relay()

    assert {(answer.status_code, answer.content) for answer in answers} == {(202, answers[0].content)}
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]] * 2
    withheld = StoredEvent.objects.filter(type="SignUpAttemptMailWithheld").values_list("payload", flat=True)
    assert [payload["mails_in_window"] for payload in withheld] == [2, 2]
