"""Mails to the customer on confirm and ship; a mail failure never undoes the step."""

import io
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.utils import timezone

from messaging import bus
from messaging.models import Delivery
from orders.commands import ConfirmOrder, ShipOrder
from orders.queries import order as order_view
from tests.factories import AccountFactory, BookFactory
from tests.stock import place

pytestmark = pytest.mark.django_db

CONFIRMATION_MAIL = "orders.policies.mail_confirmation"


class FailingMailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


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
    call_command("relay_events", stdout=io.StringIO())


def test_the_confirmation_mail_goes_to_the_customer_with_the_order(scenario, order_id, mailoutbox):
    scenario.when(ConfirmOrder(order_id=order_id))

    (mail,) = mailoutbox
    assert mail.to == ["alice@example.com"]
    assert "Hello alice," in mail.body
    assert "2 x Dune, 12.99 USD each" in mail.body
    assert "Total: 25.98 USD" in mail.body


def test_a_sent_mail_is_not_sent_again_when_its_delivery_is_relayed(scenario, order_id, mailoutbox):
    scenario.when(ConfirmOrder(order_id=order_id))
    delivery = Delivery.objects.get(policy=CONFIRMATION_MAIL)

    assert bus.deliver(delivery.pk) is None
    relay_when_due(delivery)

    assert len(mailoutbox) == 1


def test_a_mail_failure_leaves_the_order_confirmed_and_the_delivery_failed(scenario, order_id, mail_server_down):
    outcome = scenario.when(ConfirmOrder(order_id=order_id))

    assert outcome.result.ok
    assert order_view(order_id).status == "CONFIRMED"
    outcome.then_deliveries(failed=1)
    delivery = Delivery.objects.get(policy=CONFIRMATION_MAIL)
    assert delivery.last_error == "ConnectionRefusedError: the mail server is down"
    assert delivery.next_attempt_at > timezone.now()


def test_a_failed_mail_is_retried_and_dead_lettered_after_the_bound(scenario, order_id, mail_server_down):
    mail_server_down.MESSAGING_MAX_ATTEMPTS = 3
    scenario.when(ConfirmOrder(order_id=order_id))
    delivery = Delivery.objects.get(policy=CONFIRMATION_MAIL)

    relay_when_due(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)

    relay_when_due(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DEAD, 3)
    assert order_view(order_id).status == "CONFIRMED"


def test_a_failed_mail_is_sent_by_the_retry_once_the_server_is_back(scenario, order_id, settings, mailoutbox):
    working = settings.MAILERS
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.FailingMailBackend"}}
    scenario.when(ConfirmOrder(order_id=order_id))
    delivery = Delivery.objects.get(policy=CONFIRMATION_MAIL)

    settings.MAILERS = working
    relay_when_due(delivery)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DONE, 2)
    assert len(mailoutbox) == 1


def test_a_mail_failure_on_shipping_leaves_the_order_shipped(scenario, order_id, mail_server_down):
    scenario.given(ConfirmOrder(order_id=order_id))

    scenario.when(ShipOrder(order_id=order_id)).then_deliveries(failed=1)

    assert order_view(order_id).status == "SHIPPED"
