""" "Forgot your password?" end to end: the sign-in page's link, the request
through the bus, the mail through the outbox (written at send time, so its
token is stored nowhere), the link that sets a new password under the
password policy, and the same answer for an address nobody uses."""

import logging
import re
from datetime import timedelta
from uuid import UUID

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.commands import ChangePassword, DeactivateAccount
from accounts.values import Password
from interfaces.throttles import PasswordResetThrottle
from messaging import bus
from messaging.models import Delivery, StoredEvent
from messaging.personal import is_forgotten
from messaging.testing import relay
from tests.project.test_check_invariants import check
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)

OLD, NEW = "correct-horse-battery", "a-brand-new-staple-42"
SEND = "messaging.outbox.send_queued_mail"
LINK = re.compile(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def alice(settings):
    settings.SITE_URL = "http://testserver"
    return AccountFactory(username="alice", email="alice@example.com")


def ask_for_a_link(client, email: str):
    return client.post(reverse("accounts:password_reset"), {"email": email}, follow=True)


def test_the_sign_in_page_links_to_the_reset_page(client):
    page = client.get(reverse("accounts:log_in"))

    assert reverse("accounts:password_reset") in page.text and "Forgot your password?" in page.text


def test_a_reset_link_by_mail_sets_a_new_password_and_the_old_one_stops_working(client, alice, mailoutbox, caplog):
    caplog.set_level(logging.DEBUG)
    answer = ask_for_a_link(client, "Alice@Example.com")
    assert answer.status_code == 200 and "a link to choose a new password is on its way" in answer.text
    assert mailoutbox == []  # a request never sends mail: a relay worker does

    relay()

    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"] and mail.subject == "Reset your password"
    path = LINK.search(mail.body)[1]
    token = path.rstrip("/").rsplit("/", 1)[1]
    form = client.get(path, follow=True)
    assert "Choose a new password" in form.text
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert "Your new password is set." in done.text

    assert authenticate(username="alice", password=NEW) is not None
    assert authenticate(username="alice", password=OLD) is None
    assert client.login(username="alice", password=NEW)
    changed = StoredEvent.objects.get(type="PasswordChanged")
    assert changed.payload == {"account_id": str(alice.pk)} and changed.actor_id == alice.pk
    requested = StoredEvent.objects.get(type="PasswordResetRequested")
    assert requested.payload == {"account_id": str(alice.pk)}
    assert token not in caplog.text
    for model in apps.get_models():  # every row of every table: the token was in the mail only
        for row in model.objects.values():
            assert token not in str(row), model.__name__
    client.logout()
    assert "This link no longer works" in client.get(path, follow=True).text  # used once


def test_a_mail_sent_again_carries_the_same_message_id(client, alice, mailoutbox):
    ask_for_a_link(client, "alice@example.com")
    relay()
    # As after a crash between the send and the mark: the row is open again.
    Delivery.objects.filter(policy=SEND).update(status=Delivery.Status.PENDING, next_attempt_at=timezone.now())

    relay()

    first, again = mailoutbox
    assert Delivery.objects.get(policy=SEND).duration_ms > 0  # the send's own time, on the trace
    assert first.extra_headers["Message-ID"] == again.extra_headers["Message-ID"]
    assert LINK.search(again.body) is not None  # written again, at its own send time


def test_a_reset_mail_is_queued_by_account_id_and_skipped_when_the_account_closed_before_it_was_sent(
    client, alice, mailoutbox
):
    # given a link asked for: the mail is queued to her account, about her account, with nothing else
    ask_for_a_link(client, "alice@example.com")
    relay("--only", "database")  # which finds her account, after the answer
    queued = StoredEvent.objects.get(type="MailQueued").payload
    assert (queued["recipient_id"], queued["renderer"], queued["about"]) == (
        str(alice.pk),
        "accounts.password_reset",
        str(alice.pk),
    )

    # when she closes her account before a relay sends it
    bus.dispatch(DeactivateAccount(account_id=alice.pk))
    relay()

    # then no link goes out, and the delivery says why, naming her by id
    assert mailoutbox == []
    sending = Delivery.objects.get(policy=SEND)
    assert sending.status == Delivery.Status.SKIPPED
    assert sending.last_error == f"accounts.password_reset has nothing to write to account {alice.pk}: not sent"


def test_an_unknown_address_gets_the_same_page_and_no_mail(client, alice, mailoutbox):
    known = ask_for_a_link(client, "alice@example.com")
    unknown = ask_for_a_link(client, "nobody@example.com")
    relay()

    assert unknown.status_code == known.status_code == 200
    assert unknown.redirect_chain == known.redirect_chain
    assert unknown.text == known.text
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]]


def test_the_new_password_must_pass_the_password_policy(client, alice, mailoutbox):
    ask_for_a_link(client, "alice@example.com")
    relay()
    form = client.get(LINK.search(mailoutbox[0].body)[1], follow=True)

    weak = client.post(form.redirect_chain[-1][0], {"new_password1": "alice", "new_password2": "alice"})

    assert weak.status_code == 200 and "Choose a new password" in weak.text
    assert authenticate(username="alice", password=OLD) is not None
    assert not StoredEvent.objects.filter(type="PasswordChanged").exists()


def test_requests_for_a_link_are_throttled_per_address(client, alice, monkeypatch):
    monkeypatch.setitem(PasswordResetThrottle.THROTTLE_RATES, "password_reset", "2/hour")

    answers = [ask_for_a_link(client, "alice@example.com").status_code for _ in range(3)]

    assert answers == [200, 200, 429]


def test_change_password_refuses_a_weak_password_whatever_sent_it(scenario, alice):
    scenario.when(ChangePassword(account_id=alice.pk, password=Password("alice12"))).then_rejected("weak_password")

    assert authenticate(username="alice", password=OLD) is not None


def _statements(client, email: str) -> list[str]:
    """The shape of every statement the request ran: its SQL with each
    literal (an id, a sealed value, a time) replaced by ``?``."""
    with CaptureQueriesContext(connection) as queries:
        assert ask_for_a_link(client, email).status_code == 200
    return [re.sub(r"X?'[^']*'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", "?", query["sql"]) for query in queries]


def test_a_request_does_the_same_work_for_a_registered_and_an_unknown_address(client, alice, mailoutbox):
    # when a link is asked for an address an account uses, then for one nobody uses
    known = _statements(client, "alice@example.com")
    unknown = _statements(client, "nobody@example.com")

    # then both requests ran the same statements, none of them reading an
    # account, and recorded the same fact; the account is found after the answer
    assert known == unknown
    assert not [statement for statement in known if "accounts_account" in statement]
    asked = StoredEvent.objects.filter(type="PasswordResetAsked").order_by("position")
    assert [set(event.payload) for event in asked] == [{"request_id", "email"}] * 2
    assert not StoredEvent.objects.filter(type="PasswordResetRequested").exists()
    relay()
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]]
    # and the address asked about is unreadable once resolved: its request's key is gone
    assert all(is_forgotten(UUID(event.payload["request_id"])) for event in asked)
    assert check().startswith("all ")  # every event still loads, every rule holds


def test_one_inbox_gets_at_most_the_cap_of_reset_mails_whoever_asks_from_wherever(client, alice, mailoutbox, settings):
    settings.PASSWORD_RESET_MAILS_PER_RECIPIENT = 2
    pages = []
    # given requests for her address from four client addresses (each under its own throttle)
    for n in range(4):
        pages.append(
            client.post(
                reverse("accounts:password_reset"),
                {"email": "alice@example.com"},
                REMOTE_ADDR=f"192.0.2.{n + 1}",
                follow=True,
            )
        )
        relay()

    # then each got the same answer, two links went out and the others were withheld, recorded
    assert {page.text for page in pages} == {pages[0].text} and pages[0].status_code == 200
    assert len(mailoutbox) == 2
    withheld = StoredEvent.objects.filter(type="PasswordResetMailWithheld").order_by("position")
    assert [event.payload for event in withheld] == [
        {"account_id": str(alice.pk), "mails_in_window": 2},
        {"account_id": str(alice.pk), "mails_in_window": 2},
    ]


def test_the_cap_counts_only_the_window(client, alice, mailoutbox, settings):
    settings.PASSWORD_RESET_MAILS_PER_RECIPIENT = 1
    ask_for_a_link(client, "alice@example.com")
    relay()
    StoredEvent.objects.filter(type="PasswordResetRequested").update(
        occurred_at=timezone.now() - timedelta(seconds=settings.MAIL_CAP_WINDOW_SECONDS + 1)
    )

    ask_for_a_link(client, "alice@example.com")
    relay()

    assert len(mailoutbox) == 2
