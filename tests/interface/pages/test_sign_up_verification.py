"""The sign-up page says nothing of who has an account, and the mailed
link verifies the address and signs its owner in; until then the pages say
the address needs verifying, the book page's order is refused, and the
link can be mailed again, throttled."""

import re
from uuid import uuid4

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from interfaces.throttles import VerificationMailThrottle
from messaging.testing import relay
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"http://testserver(/verify-email/[^/\s]+/)")


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"


def sign_up(client, **overrides):
    form = client.get(reverse("accounts:sign_up")).context["form"]
    data = {
        "username": "carol",
        "email": "carol@example.com",
        "password": "a sturdy passphrase",
        "password_again": "a sturdy passphrase",
        "idempotency_key": form["idempotency_key"].value(),
        **overrides,
    }
    return client.post(reverse("accounts:sign_up"), data, follow=True)


def test_a_taken_email_gets_the_same_page_as_a_new_one_and_its_owner_a_mail(mailoutbox):
    AccountFactory(username="alice", email="alice@example.com")

    new = sign_up(Client())
    taken = sign_up(Client(), email="ALICE@example.com", username="mallory")
    relay()

    assert new.redirect_chain == taken.redirect_chain and new.text == taken.text
    assert "Check your mail" in new.text
    assert not Account.objects.filter(username="mallory").exists()
    assert {mail.subject: mail.to for mail in mailoutbox} == {
        "Confirm your e-mail address": ["carol@example.com"],
        "Someone tried to sign up with your address": ["alice@example.com"],
    }


def test_the_mailed_link_verifies_the_address_and_signs_its_owner_in(client, mailoutbox):
    sign_up(client)
    relay()
    path = LINK.search(mailoutbox[0].body)[1]

    # the link moves its token into the session, off the address, then asks to confirm
    landing = client.get(path)
    assert landing.status_code == 302 and landing.url == reverse("accounts:verify_email_confirm")
    page = client.get(landing.url)
    assert "Confirm that carol@example.com is the address of" in page.text
    assert not Account.objects.get(username="carol").email_verified  # a mail scanner's GET verifies nothing

    done = client.post(landing.url, {"idempotency_key": page.context["form"]["idempotency_key"].value()}, follow=True)

    assert "Your e-mail address is verified. Welcome!" in done.text
    assert Account.objects.get(username="carol").email_verified
    assert done.context["user"].username == "carol"  # signed in


def test_a_forged_link_says_it_no_longer_works(client):
    landing = client.get("/verify-email/forged-token/", follow=True)

    assert landing.status_code == 400 and "This link no longer works" in landing.text


def test_an_unverified_person_is_told_orders_wait_for_it_and_can_ask_again(client, mailoutbox, monkeypatch):
    monkeypatch.setitem(VerificationMailThrottle.THROTTLE_RATES, "verification", "1/hour")
    carol = AccountFactory(username="carol", email_verified_at=None)
    book = BookFactory()
    client.force_login(carol)

    page = client.get(reverse("catalog:book", args=[book.pk]))
    assert "Your e-mail address is not verified yet" in page.text

    order = client.post(
        reverse("orders:place"), {"book_id": book.pk, "quantity": 1, "idempotency_key": uuid4()}, follow=True
    )
    assert "Verify your e-mail address first" in order.text

    again = client.post(reverse("accounts:resend_verification"), {"next": "/books/"})
    limited = client.post(reverse("accounts:resend_verification"))
    relay()
    assert again.status_code == 302 and again.url == "/books/"
    assert limited.status_code == 429
    assert [mail.to for mail in mailoutbox] == [["carol@example.com"]]
