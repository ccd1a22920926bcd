"""An order's life after placement: confirm, ship, cancel, and what each does to stock."""

import io
from uuid import uuid4

import pytest
from django.core.management import call_command

from catalog.events import StockReleased
from messaging import relay as runner
from messaging.models import Delivery
from orders.commands import CancelOrder, ConfirmOrder, ShipOrder
from orders.events import OrderCancelled
from orders.queries import order as order_view
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return AccountFactory(username="alice")


@pytest.fixture
def book():
    return BookFactory(inventory__on_hand=10)


def placed(scenario, customer, book, quantity=3):
    (result,) = scenario.given(place(customer, (book, quantity)))
    return result.events[0].order_id


def relay():
    call_command("relay_events", stdout=io.StringIO())


STEPS = {"confirm": ConfirmOrder, "ship": ShipOrder, "cancel": CancelOrder}


@pytest.mark.parametrize(
    "history, step",
    [
        ([], "ship"),
        (["confirm"], "confirm"),
        (["confirm", "ship"], "confirm"),
        (["confirm", "ship"], "ship"),
        (["confirm", "ship"], "cancel"),
        (["cancel"], "confirm"),
        (["cancel"], "ship"),
        (["cancel"], "cancel"),
    ],
)
def test_a_step_the_status_does_not_allow_is_an_invalid_transition(scenario, alice, book, history, step):
    order_id = placed(scenario, alice, book)
    scenario.given(*[STEPS[done](order_id=order_id) for done in history])
    status = order_view(order_id).status

    scenario.when(STEPS[step](order_id=order_id)).then_rejected("invalid_transition")
    assert order_view(order_id).status == status


@pytest.mark.parametrize("step", STEPS)
def test_a_step_for_an_unknown_order_is_refused(scenario, step):
    scenario.when(STEPS[step](order_id=uuid4())).then_rejected("order_not_found")


def test_confirming_leaves_the_copies_held(scenario, alice, book):
    order_id = placed(scenario, alice, book)

    scenario.when(ConfirmOrder(order_id=order_id))

    assert order_view(order_id).status == "CONFIRMED"
    assert figures(book) == (10, 3)


def test_shipping_takes_the_held_copies_out_of_stock(scenario, alice, book):
    order_id = placed(scenario, alice, book)
    scenario.given(ConfirmOrder(order_id=order_id))

    scenario.when(ShipOrder(order_id=order_id))

    assert figures(book) == (7, 0)


@pytest.mark.parametrize("history", [[], [ConfirmOrder]], ids=["pending", "confirmed"])
def test_cancelling_releases_the_held_copies_after_commit(scenario, alice, book, history):
    order_id = placed(scenario, alice, book)
    scenario.given(*[step(order_id=order_id) for step in history])

    outcome = scenario.when(CancelOrder(order_id=order_id))

    outcome.then_cascade(OrderCancelled, StockReleased).then_deliveries(done=1)
    assert order_view(order_id).status == "CANCELLED"
    assert figures(book) == (10, 0)


def test_a_release_relayed_again_releases_nothing_more(scenario, alice, book):
    order_id = placed(scenario, alice, book)
    placed(scenario, alice, book, quantity=2)  # another order's copies stay held
    scenario.given(CancelOrder(order_id=order_id))
    release = Delivery.objects.get(policy="orders.policies.release_stock_on_cancel")

    assert runner.deliver(release.pk) is None
    Delivery.objects.filter(pk=release.pk).update(status=Delivery.Status.PENDING)
    relay()

    release.refresh_from_db()
    assert release.status == Delivery.Status.DONE
    assert figures(book) == (10, 2)


def test_the_customer_may_cancel_their_own_order(scenario, alice, book):
    order_id = placed(scenario, alice, book)

    scenario.when(CancelOrder(order_id=order_id, actor_id=alice.pk)).then_events(OrderCancelled)


def test_staff_may_cancel_anyone_s_order(scenario, alice, book):
    order_id = placed(scenario, alice, book)
    staff = AccountFactory(is_staff=True)

    scenario.when(CancelOrder(order_id=order_id, actor_id=staff.pk)).then_events(OrderCancelled)


def test_someone_else_cannot_cancel_an_order_and_is_told_there_is_none(scenario, alice, book):
    order_id = placed(scenario, alice, book)
    mallory = AccountFactory(username="mallory")

    scenario.when(CancelOrder(order_id=order_id, actor_id=mallory.pk)).then_rejected("order_not_found")
    assert order_view(order_id).status == "PENDING"
    assert figures(book) == (10, 3)
