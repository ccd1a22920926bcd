"""An order nobody confirms in time expires through the relay, its copies
back on sale; one confirmed in time never does."""

import time

import pytest

from catalog.models import Book
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder, ExpireOrder
from orders.queries import order as order_view
from tests.factories import AccountFactory, BookFactory
from tests.stock import figures, place

pytestmark = pytest.mark.django_db

DEADLINE = "orders.policies.expire_unconfirmed_order"


@pytest.fixture
def one_second(settings):
    settings.ORDER_CONFIRM_TIMEOUT = 1
    return settings


@pytest.fixture
def placed(scenario, one_second):
    customer, book = AccountFactory(email="reader@example.com"), BookFactory(inventory__on_hand=3)
    (result,) = scenario.given(place(customer, (book, 2)))
    return result.events[0].order_id, book


def test_an_order_left_pending_expires_through_the_relay_after_its_deadline(placed, mailoutbox):
    order_id, book = placed
    relay()
    assert order_view(order_id).status == "PENDING"  # not before its time
    assert Delivery.objects.get(policy=DEADLINE).status == Delivery.Status.PENDING

    time.sleep(1.1)
    relay()

    assert order_view(order_id).status == "CANCELLED"
    assert figures(Book.objects.get(pk=book.pk)) == (3, 0)
    expired = StoredEvent.objects.get(type="OrderExpired")
    assert "Nobody confirmed it within" in expired.payload["reason"]
    (mail,) = mailoutbox
    assert mail.to == ["reader@example.com"] and expired.payload["reason"] in mail.body
    assert Delivery.objects.get(policy=DEADLINE).status == Delivery.Status.DONE


def test_an_order_confirmed_in_time_never_expires(placed, scenario):
    order_id, book = placed
    scenario.given(ConfirmOrder(order_id=order_id))

    time.sleep(1.1)
    relay()

    assert order_view(order_id).status == "CONFIRMED"
    assert figures(Book.objects.get(pk=book.pk)) == (3, 2)
    assert not StoredEvent.objects.filter(command_type="ExpireOrder").exists()  # the schedule lapsed
    assert Delivery.objects.get(policy=DEADLINE).status == Delivery.Status.DONE


def test_an_expiry_crossing_a_confirmation_is_refused_and_the_order_stays_confirmed(placed, scenario):
    order_id, _ = placed
    scenario.given(ConfirmOrder(order_id=order_id))

    scenario.when(ExpireOrder(order_id=order_id), as_policy=DEADLINE).then_rejected("invalid_transition")

    assert order_view(order_id).status == "CONFIRMED"


def test_nobody_may_expire_an_order_by_hand(placed, scenario):
    order_id, _ = placed

    scenario.when(ExpireOrder(order_id=order_id)).then_rejected("policy_only")
