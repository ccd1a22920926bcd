"""Mails to the customer on confirm and ship, through the outbox: queued in
the policy's transaction, sent by a relay worker outside any transaction;
a mail failure never undoes the step."""

import smtplib
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from messaging import bus
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder, ShipOrder
from orders.queries import order as order_view
from tests.factories import AccountFactory, BookFactory
from tests.stock import place

pytestmark = pytest.mark.django_db

CONFIRMATION_MAIL = "orders.policies.mail_confirmation"
SEND = "messaging.outbox.send_queued_mail"


class FailingMailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


class RefusingMailBackend(BaseEmailBackend):
    """A mail server that answers 550: no such mailbox."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"alice@example.com": (550, b"5.1.1 no such mailbox")})


@pytest.fixture
def mail_server_down(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingMailBackend"}}
    return settings


@pytest.fixture
def order_id(scenario):
    alice = AccountFactory(username="alice", email="alice@example.com")
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


def test_a_sent_mail_is_not_sent_again_when_its_delivery_is_relayed(scenario, order_id, mailoutbox):
    scenario.when(ConfirmOrder(order_id=order_id))
    relay()
    sent = Delivery.objects.get(policy=SEND)

    assert bus.deliver(sent.pk) is None
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
    assert Delivery.objects.filter(policy=SEND, status=Delivery.Status.FAILED).count() == 2
