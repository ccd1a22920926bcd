"""An order nobody confirms in time expires through the relay, its copies
back on sale; one confirmed or cancelled in time never does, and its
schedule shows as cancelled."""

import time

import pytest
from django.test import Client

from catalog.events import StockReserved
from catalog.models import Book
from messaging.features.schedules import SCHEDULER
from messaging.models import ScheduledCommand, StoredEvent
from messaging.testing import relay
from orders.commands import CancelOrder, ConfirmOrder, ExpireOrder
from orders.events import OrderPlaced
from orders.queries import order as order_view
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures, place

pytestmark = pytest.mark.django_db


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
    assert ScheduledCommand.objects.get().status == ScheduledCommand.Status.WAITING

    time.sleep(1.1)
    assert "1 scheduled done" in relay()

    assert order_view(order_id).status == "CANCELLED"
    assert figures(Book.objects.get(pk=book.pk)) == (3, 0)
    expired = StoredEvent.objects.get(type="OrderExpired")
    assert "Nobody confirmed it within" in expired.payload["reason"]
    (mail,) = mailoutbox
    assert mail.to == ["reader@example.com"] and expired.payload["reason"] in mail.body
    schedule = ScheduledCommand.objects.get()
    assert schedule.status == ScheduledCommand.Status.DONE and schedule.attempts == 1
    assert StoredEvent.objects.get(type="OrderExpired").causation_id == schedule.schedule_id


def test_copies_of_an_expired_order_count_no_more_against_the_cap(scenario, one_second):
    # given: a customer's order took her to the cap, and expired
    one_second.ORDERS_MAX_HELD_COPIES = 2
    customer, book = AccountFactory(), BookFactory(inventory__on_hand=5)
    scenario.given(place(customer, (book, 2)))
    time.sleep(1.1)
    assert "1 scheduled done" in relay()

    # when / then
    scenario.when(place(customer, (book, 2))).then_events(OrderPlaced, StockReserved)


def test_a_due_expiry_runs_exactly_once_however_often_the_relay_comes(placed):
    order_id, book = placed
    time.sleep(1.1)
    relay()
    relay()

    assert StoredEvent.objects.filter(type="OrderExpired").count() == 1
    assert StoredEvent.objects.filter(type="StockReleased").count() == 1
    assert figures(Book.objects.get(pk=book.pk)) == (3, 0)


def test_an_order_confirmed_in_time_never_expires(placed, scenario):
    order_id, book = placed
    scenario.given(ConfirmOrder(order_id=order_id))

    time.sleep(1.1)
    relay()

    assert order_view(order_id).status == "CONFIRMED"
    assert figures(Book.objects.get(pk=book.pk)) == (3, 2)
    assert not StoredEvent.objects.filter(command_type="ExpireOrder").exists()
    schedule = ScheduledCommand.objects.get()
    assert schedule.status == ScheduledCommand.Status.CANCELLED and schedule.attempts == 0


def test_an_order_cancelled_in_time_never_expires(placed, scenario):
    order_id, book = placed
    scenario.given(CancelOrder(order_id=order_id))

    time.sleep(1.1)
    relay()

    assert not StoredEvent.objects.filter(command_type="ExpireOrder").exists()
    assert ScheduledCommand.objects.get().status == ScheduledCommand.Status.CANCELLED
    assert figures(Book.objects.get(pk=book.pk)) == (3, 0)


def test_a_refused_confirmation_leaves_the_schedule_waiting(placed, scenario):
    order_id, _ = placed
    scenario.given(CancelOrder(order_id=order_id))
    ScheduledCommand.objects.update(status=ScheduledCommand.Status.WAITING)  # as if the cancel had not called it off

    scenario.when(ConfirmOrder(order_id=order_id)).then_rejected("invalid_transition")

    assert ScheduledCommand.objects.get().status == ScheduledCommand.Status.WAITING


def test_the_trace_shows_the_schedule_and_the_expiry_it_became(placed, admin_user):
    order_id, _ = placed
    correlation_id = StoredEvent.objects.get(type="OrderPlaced").correlation_id
    client = Client()
    client.force_login(admin_user)
    waiting = client.get(f"/trace/{correlation_id}/").content.decode()
    assert "scheduled" in waiting and "ExpireOrder" in waiting and "waiting for its time" in waiting

    time.sleep(1.1)
    relay()

    page = client.get(f"/trace/{correlation_id}/").content.decode()
    assert "dispatched" in page and "OrderExpired" in page
    assert StoredEvent.objects.get(type="OrderExpired").correlation_id == correlation_id


def test_an_expiry_crossing_a_confirmation_is_refused_and_the_order_stays_confirmed(placed, scenario):
    order_id, _ = placed
    scenario.given(ConfirmOrder(order_id=order_id))

    scenario.when(ExpireOrder(order_id=order_id), as_policy=SCHEDULER).then_rejected("invalid_transition")

    assert order_view(order_id).status == "CONFIRMED"


def test_nobody_may_expire_an_order_by_hand(placed, scenario):
    order_id, _ = placed

    scenario.when(ExpireOrder(order_id=order_id)).then_rejected("policy_only")
