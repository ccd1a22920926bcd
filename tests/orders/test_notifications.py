"""Mails to the customer on confirm and ship, through the outbox: queued in
the policy's transaction by ids alone, written and addressed by a relay
worker when it sends them, outside any transaction; a mail failure never
undoes the step, and a mail to a person forgotten since is skipped."""

import json
import logging
import smtplib
from datetime import timedelta

import pytest
from django.core.mail.backends import locmem
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from accounts.commands import ForgetAccount
from accounts.models import Account
from messaging import relay as runner
from messaging.models import Delivery, StoredEvent
from messaging.operations import metrics
from messaging.testing import relay
from orders.commands import ConfirmOrder, ShipOrder
from orders.mails import CONFIRMED_MAIL
from orders.queries import order as order_view
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db

CONFIRMATION_MAIL = "orders.policies.mail_confirmation"
SEND = "messaging.outbox.send_queued_mail"


class FailingMailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


class RefusingMailBackend(BaseEmailBackend):
    """A mail server that answers 550: no such mailbox (quoting the address, as servers do)."""

    def send_messages(self, email_messages):
        (address,) = email_messages[0].to
        raise smtplib.SMTPRecipientsRefused({address: (550, f"5.1.1 <{address}>: no such mailbox".encode())})


class GreylistingMailBackend(BaseEmailBackend):
    """A mail server that answers 451 to the message, quoting the address: try again later."""

    def send_messages(self, email_messages):
        (address,) = email_messages[0].to
        raise smtplib.SMTPDataError(451, f"4.7.1 greylisted: {address.upper()}, come back later".encode())


class AddressQuotingMailBackend(BaseEmailBackend):
    """A mail library that fails with an error of its own quoting the address."""

    def send_messages(self, email_messages):
        (address,) = email_messages[0].to
        raise ValueError(f'Invalid address "{address}"')


@pytest.fixture
def mail_server_down(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingMailBackend"}}
    return settings


@pytest.fixture
def alice():
    return AccountFactory(username="alice", email="alice@example.com")


@pytest.fixture
def order_id(scenario, alice):
    (result,) = scenario.given(place(alice, (BookFactory(title="Dune"), 2)))
    return result.events[0].order_id


def relay_when_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    relay()


def test_confirming_queues_the_mail_and_a_relay_worker_sends_it_to_the_customer(scenario, order_id, mailoutbox):
    outcome = scenario.when(ConfirmOrder(order_id=order_id))

    assert [e.type_name() for e in outcome.cascade] == ["OrderConfirmed", "MailQueued"]
    assert mailoutbox == []  # the command and its policies never wait for the mail server
    relay()

    (mail,) = mailoutbox
    assert mail.to == ["alice@example.com"]
    assert "Hello alice," in mail.body
    assert "2 x Dune, 12.99 USD each" in mail.body
    assert "Total: 25.98 USD" in mail.body
    queued = StoredEvent.objects.get(type="MailQueued")
    assert mail.extra_headers["Message-ID"] == queued.payload["message_id"]
    assert Delivery.objects.get(policy=SEND).status == Delivery.Status.DONE


def test_a_queued_order_mail_stores_the_recipients_id_and_neither_her_address_nor_her_name(scenario, alice, order_id):
    # when staff confirm her order (the mail is queued, not yet sent)
    scenario.when(ConfirmOrder(order_id=order_id))

    # then the stored mail names her by id, and what it says is sealed for her
    stored = StoredEvent.objects.get(type="MailQueued")
    assert stored.version == 2
    assert {name: stored.payload[name] for name in ("recipient_id", "renderer", "about")} == {
        "recipient_id": str(alice.pk),
        "renderer": CONFIRMED_MAIL,
        "about": str(order_id),
    }
    assert stored.payload["params"] == {}  # a confirmation says nothing of its own: nothing to seal, no key read
    raw = json.dumps(stored.payload)
    assert "alice@example.com" not in raw and "alice" not in raw and "Hello" not in raw


def test_a_mail_is_written_with_the_recipients_name_and_address_of_when_it_is_sent(
    scenario, alice, order_id, mailoutbox
):
    # given a mail queued while she was alice at alice@example.com
    scenario.when(ConfirmOrder(order_id=order_id))

    # when she has another address and name by the time a relay sends it
    Account.objects.filter(pk=alice.pk).update(email="alice.b@example.org", username="alice_b")
    relay()

    # then it is written to who she is now
    (mail,) = mailoutbox
    assert mail.to == ["alice.b@example.org"]
    assert mail.body.startswith("Hello alice_b,\n")
    assert mail.subject == f"Your order {str(order_id)[:8]} is confirmed"


def test_a_mail_to_a_recipient_forgotten_before_it_is_sent_is_skipped_not_failed(
    scenario, alice, order_id, mailoutbox, caplog
):
    caplog.set_level(logging.INFO, logger="messaging")
    # given a confirmation mail queued for her
    scenario.when(ConfirmOrder(order_id=order_id))

    # when she is forgotten before a relay sends it
    scenario.given(ForgetAccount(account_id=alice.pk))
    relay()

    # then nothing is sent, and the delivery is settled as skipped, saying why by her id
    assert mailoutbox == []
    sending = Delivery.objects.get(policy=SEND)
    assert (sending.status, sending.attempts) == (Delivery.Status.SKIPPED, 1)
    assert sending.last_error == f"account {alice.pk} was forgotten: not sent"
    assert sending.delivered_at is not None
    backlog = metrics.backlog()
    assert (backlog.pending, backlog.failed, backlog.dead) == (0, 0, 0)
    assert f"skipped MailQueued to {SEND}: account {alice.pk} was forgotten" in caplog.text


def test_any_error_of_a_send_that_quotes_the_address_names_the_account_instead(scenario, alice, order_id, settings):
    # given a mail library whose own error quotes the address
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.AddressQuotingMailBackend"}}

    # when her confirmation mail is sent
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()

    # then it waits for a retry, and the error names her by account
    sending = Delivery.objects.get(policy=SEND)
    assert sending.status == Delivery.Status.FAILED
    assert sending.last_error == (
        f'MailNotSent: ValueError sending the mail to account {alice.pk}: Invalid address "<account {alice.pk}>"'
    )


def test_a_sent_mail_is_not_sent_again_when_its_delivery_is_relayed(scenario, order_id, mailoutbox):
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()
    sent = Delivery.objects.get(policy=SEND)

    assert runner.deliver(sent.pk) is None
    relay_when_due(sent)

    assert len(mailoutbox) == 1


def test_a_mail_failure_leaves_the_order_confirmed_and_the_mail_waiting_for_a_retry(
    scenario, order_id, mail_server_down
):
    outcome = scenario.when(ConfirmOrder(order_id=order_id))
    relay()

    assert outcome.result.ok
    assert order_view(order_id).status == "CONFIRMED"
    outcome.then_deliveries(done=1, failed=1)
    sending = Delivery.objects.get(policy=SEND)
    assert sending.last_error == "ConnectionRefusedError: the mail server is down"
    assert sending.next_attempt_at > timezone.now()
    assert Delivery.objects.get(policy=CONFIRMATION_MAIL).status == Delivery.Status.DONE


def test_a_failed_mail_is_retried_and_dead_lettered_after_the_bound(scenario, order_id, mail_server_down):
    mail_server_down.MESSAGING_MAX_ATTEMPTS = 3
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()
    sending = Delivery.objects.get(policy=SEND)

    relay_when_due(sending)
    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.FAILED, 2)

    relay_when_due(sending)
    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.DEAD, 3)
    assert order_view(order_id).status == "CONFIRMED"


def test_a_mail_the_server_refuses_for_good_is_dead_lettered_at_once(scenario, order_id, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingMailBackend"}}
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()

    sending = Delivery.objects.get(policy=SEND)
    assert (sending.status, sending.attempts) == (Delivery.Status.DEAD, 1)
    assert "550" in sending.last_error


def test_a_refused_recipient_is_named_by_account_in_the_error_and_the_log_never_by_address(
    scenario, alice, order_id, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    # given a mail server that refuses her mailbox, quoting her address
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingMailBackend"}}

    # when her confirmation mail is sent
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()

    # then the error stored and logged names her account, and her address is nowhere
    sending = Delivery.objects.get(policy=SEND)
    assert sending.last_error == (
        f"Permanent: the mail server refused the mail to account {alice.pk}: "
        f"550 5.1.1 <account {alice.pk}>: no such mailbox"
    )
    assert sending.last_error in caplog.text
    assert "alice@example.com" not in caplog.text


def test_a_mail_the_server_defers_is_retried_and_its_error_quotes_no_address(scenario, alice, order_id, settings):
    # given a mail server that answers 451, quoting her address in capitals
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.GreylistingMailBackend"}}

    # when her confirmation mail is sent
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()

    # then it waits for a retry, and the error names her by account
    sending = Delivery.objects.get(policy=SEND)
    assert sending.status == Delivery.Status.FAILED
    assert sending.last_error == (
        f"MailNotSent: the mail server did not take the mail to account {alice.pk}: "
        f"451 4.7.1 greylisted: <account {alice.pk}>, come back later"
    )


def test_a_failed_mail_is_sent_by_the_retry_once_the_server_is_back(scenario, order_id, settings, mailoutbox):
    working = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingMailBackend"}}
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()
    sending = Delivery.objects.get(policy=SEND)

    settings.MAILERS = working
    relay_when_due(sending)

    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.DONE, 2)
    assert len(mailoutbox) == 1


def test_a_mail_failure_on_shipping_leaves_the_order_shipped(scenario, order_id, mail_server_down):
    scenario.given(ConfirmOrder(order_id=order_id))

    scenario.when(ShipOrder(order_id=order_id))
    relay()

    assert order_view(order_id).status == "SHIPPED"
    # the confirmation failed; the "shipped" mail waits behind it, not tried
    confirmation, shipment = Delivery.objects.filter(policy=SEND).order_by("pk")
    assert (confirmation.status, shipment.status, shipment.attempts) == ("failed", "pending", 0)


class GreylistingFirstMailBackend(locmem.EmailBackend):
    """A mail server that answers 451 to the first attempt of the first mail
    it is given (greylisting), and takes every other attempt."""

    refused: set[str] = set()

    def send_messages(self, email_messages):
        message_id = email_messages[0].extra_headers["Message-ID"]
        if not GreylistingFirstMailBackend.refused:
            GreylistingFirstMailBackend.refused.add(message_id)
            raise smtplib.SMTPDataError(451, b"4.7.1 greylisted, come back later")
        return super().send_messages(email_messages)


def test_an_orders_mails_arrive_in_the_order_of_its_events_when_the_first_one_must_be_retried(
    scenario, order_id, settings, mailoutbox
):
    # given a mail server that greylists the first attempt of the first mail
    GreylistingFirstMailBackend.refused = set()
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.GreylistingFirstMailBackend"}}

    # when her order is confirmed, then shipped, and a relay worker sends the mails
    scenario.when(ConfirmOrder(order_id=order_id))
    scenario.when(ShipOrder(order_id=order_id))
    relay()

    # then the "shipped" mail waits behind the confirmation, which waits for its retry
    assert mailoutbox == []
    confirmation, shipment = Delivery.objects.filter(policy=SEND).order_by("pk")
    assert (confirmation.status, shipment.status) == (Delivery.Status.FAILED, Delivery.Status.PENDING)

    # and once the confirmation's retry is due, the mails arrive in the order of the events
    relay_when_due(confirmation)
    relay()
    assert [mail.subject.rsplit(" ", 1)[-1] for mail in mailoutbox] == ["confirmed", "shipped"]
