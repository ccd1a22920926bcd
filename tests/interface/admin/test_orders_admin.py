"""The orders admin: read-only rows, confirm, ship and cancel as actions."""

import pytest
from django.urls import reverse

from messaging.models import StoredEvent
from orders.commands import PlaceOrder
from orders.models import Order
from orders.values import OrderLine
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(AccountFactory(username="operator", is_staff=True, is_superuser=True))


@pytest.fixture
def order(scenario):
    customer, book = AccountFactory(username="carol"), BookFactory()
    [result] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=customer.pk))
    return Order.objects.get(pk=result.events[0].order_id)


def run_action(client, action, *orders):
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [order.pk for order in orders]},
        follow=True,
    )


@pytest.mark.parametrize("model", ["order", "orderitem"])
def test_every_orders_model_is_listed_searchable_and_read_only(client, operator, order, model):
    listing = client.get(reverse(f"admin:orders_{model}_changelist"), {"q": str(order.pk)[:8]})

    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
    assert client.get(reverse(f"admin:orders_{model}_add")).status_code == 403


def test_an_order_is_shown_with_its_customer_and_items(client, operator, order):
    listing = client.get(reverse("admin:orders_order_changelist"), {"status__exact": "PENDING"})
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert "carol" in listing.text
    assert page.status_code == 200 and order.items.get().title in page.text


@pytest.mark.parametrize(
    "actions, event_type, status",
    [
        (["confirm"], "OrderConfirmed", "CONFIRMED"),
        (["confirm", "ship"], "OrderShipped", "SHIPPED"),
        (["cancel"], "OrderCancelled", "CANCELLED"),
    ],
)
def test_each_action_dispatches_its_command(client, operator, order, actions, event_type, status):
    for action in actions:
        response = run_action(client, action, order)

    order.refresh_from_db()
    assert order.status == status
    assert StoredEvent.objects.filter(type=event_type).count() == 1
    assert "order(s)" in response.text


def test_a_refused_action_names_the_order(client, operator, order):
    response = run_action(client, "ship", order)

    assert f"Refused for #{str(order.pk)[:8]}: A pending order cannot become shipped." in response.text
