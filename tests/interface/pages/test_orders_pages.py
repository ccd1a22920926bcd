"""The orders pages and the staff console's orders, through Django's test client."""

from uuid import uuid4

import pytest
from django.urls import reverse

from catalog.models import Inventory
from interfaces.throttles import OrderPlacementThrottle
from messaging.models import StoredEvent
from orders.commands import ConfirmOrder, PlaceOrder
from orders.models import Order
from orders.values import OrderLine
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db


def key() -> dict:
    return {"idempotency_key": str(uuid4())}


@pytest.fixture
def customer(client):
    account = AccountFactory(username="carol")
    client.force_login(account)
    return account


@pytest.fixture
def book():
    return BookFactory(title="Dune", inventory__on_hand=10)


def place(scenario, customer, book, quantity=2) -> Order:
    [result] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=quantity),), actor_id=customer.pk))
    return Order.objects.get(pk=result.events[0].order_id)


def stock_of(book) -> int:
    return Inventory.objects.get(book=book).available


def test_ordering_from_the_book_page_dispatches_place_order(client, customer, book):
    response = client.post(reverse("orders:place"), {"book_id": book.pk, "quantity": 2, **key()}, follow=True)

    order = Order.objects.get()
    assert response.redirect_chain == [(reverse("orders:mine"), 302)]
    assert StoredEvent.objects.get(type="OrderPlaced").command_type == "PlaceOrder"
    assert (order.customer_id, order.status) == (customer.pk, "PENDING")
    assert stock_of(book) == 8
    assert "Order placed." in response.text and "2 × " in response.text


def test_a_double_submitted_order_is_placed_once(client, customer, book):
    data = {"book_id": book.pk, "quantity": 2, **key()}

    client.post(reverse("orders:place"), data)
    client.post(reverse("orders:place"), data)

    assert Order.objects.count() == 1 and stock_of(book) == 8


def test_ordering_more_than_in_stock_shows_the_refusal_on_the_book_page(client, customer, book):
    response = client.post(reverse("orders:place"), {"book_id": book.pk, "quantity": 11, **key()}, follow=True)

    assert response.redirect_chain == [(reverse("catalog:book", args=[book.pk]), 302)]
    assert StoredEvent.objects.get().payload["code"] == "insufficient_stock"
    assert "Only 10 of “Dune”" in response.text
    assert not Order.objects.exists()


def test_my_orders_lists_only_mine_with_a_cancel_button_where_it_applies(client, customer, book, scenario):
    pending = place(scenario, customer, book)
    confirmed = place(scenario, customer, book)
    scenario.given(ConfirmOrder(order_id=confirmed.pk))
    place(scenario, AccountFactory(), book)

    response = client.get(reverse("orders:mine"))

    assert response.status_code == 200
    assert "orders/my_orders.html" in [t.name for t in response.templates]
    assert {order.pk for order, _ in response.context["rows"]} == {pending.pk, confirmed.pk}
    assert reverse("orders:cancel", args=[pending.pk]) in response.text
    assert reverse("orders:cancel", args=[confirmed.pk]) in response.text


def test_cancelling_dispatches_cancel_order_and_releases_the_stock(
    client, customer, book, scenario, django_capture_on_commit_callbacks
):
    order = place(scenario, customer, book)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:cancel", args=[order.pk]), key())

    order.refresh_from_db()
    assert response.status_code == 302 and response.url == reverse("orders:mine")
    assert StoredEvent.objects.get(type="OrderCancelled").command_type == "CancelOrder"
    assert order.status == "CANCELLED" and stock_of(book) == 10


def test_cancel_asks_for_confirmation_before_anything_is_sent(client, customer, book, scenario):
    # given my orders lead to a question, not a form that acts
    order = place(scenario, customer, book)
    mine = client.get(reverse("orders:mine"))
    assert f'href="{reverse("orders:cancel", args=[order.pk])}"' in mine.text

    # when
    response = client.get(reverse("orders:cancel", args=[order.pk]))

    # then
    assert response.status_code == 200
    assert "confirm.html" in [t.name for t in response.templates]
    assert "Cancel this order?" in response.text and "Dune" in response.text
    assert f'action="{reverse("orders:cancel", args=[order.pk])}"' in response.text
    order.refresh_from_db()
    assert order.status == "PENDING" and not StoredEvent.objects.filter(type="OrderCancelled").exists()


def test_nobody_is_asked_to_confirm_cancelling_someone_elses_order(client, customer, book, scenario):
    order = place(scenario, AccountFactory(), book)

    assert client.get(reverse("orders:cancel", args=[order.pk])).status_code == 404


def test_nobody_cancels_someone_elses_order(client, customer, book, scenario):
    order = place(scenario, AccountFactory(), book)

    response = client.post(reverse("orders:cancel", args=[order.pk]), key(), follow=True)

    order.refresh_from_db()
    assert order.status == "PENDING"
    assert "No such order." in response.text


def test_my_orders_need_a_login(client):
    response = client.get(reverse("orders:mine"))

    assert response.status_code == 302 and response.url.startswith(reverse("accounts:log_in"))


def test_placing_and_cancelling_need_a_post_and_a_login(client):
    assert client.get(reverse("orders:place")).status_code == 405
    assert client.post(reverse("orders:place"), key()).url.startswith(reverse("accounts:log_in"))
    assert client.post(reverse("orders:cancel", args=[uuid4()]), key()).url.startswith(reverse("accounts:log_in"))


# --- the staff console ---------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(AccountFactory(username="operator", is_staff=True))
    return client


def test_the_console_lists_orders_by_status_with_their_customer(
    staff_client, book, scenario, django_assert_max_num_queries
):
    customer = AccountFactory(username="carol")
    pending, confirmed = place(scenario, customer, book), place(scenario, customer, book)
    scenario.given(ConfirmOrder(order_id=confirmed.pk))

    with django_assert_max_num_queries(5):  # session, user, count, page, items
        everything = staff_client.get(reverse("orders:staff_orders"))
    to_confirm = staff_client.get(reverse("orders:staff_orders"), {"status": "PENDING"})

    assert everything.status_code == 200
    assert "orders/staff_orders.html" in [t.name for t in everything.templates]
    assert [order.pk for order, _ in to_confirm.context["rows"]] == [pending.pk]
    assert reverse("orders:change", args=[pending.pk, "confirm"]) in to_confirm.text
    assert reverse("orders:change", args=[confirmed.pk, "ship"]) in everything.text
    assert "carol" in everything.text


@pytest.mark.parametrize(
    "action, given_confirmed, event_type, command_type, status",
    [
        ("confirm", False, "OrderConfirmed", "ConfirmOrder", "CONFIRMED"),
        ("ship", True, "OrderShipped", "ShipOrder", "SHIPPED"),
    ],
)
def test_staff_confirm_and_ship_through_their_commands(
    staff_client, book, scenario, action, given_confirmed, event_type, command_type, status
):
    order = place(scenario, AccountFactory(), book)
    if given_confirmed:
        scenario.given(ConfirmOrder(order_id=order.pk))

    response = staff_client.post(reverse("orders:change", args=[order.pk, action]) + "?status=PENDING", key())

    order.refresh_from_db()
    assert response.status_code == 302 and response.url == reverse("orders:staff_orders") + "?status=PENDING"
    assert StoredEvent.objects.get(type=event_type).command_type == command_type
    assert order.status == status


def test_an_unknown_console_action_is_404(staff_client):
    assert staff_client.post(reverse("orders:change", args=[uuid4(), "refund"]), key()).status_code == 404


def test_shipping_a_pending_order_is_refused_with_a_message(staff_client, book, scenario):
    order = place(scenario, AccountFactory(), book)

    response = staff_client.post(reverse("orders:change", args=[order.pk, "ship"]), key(), follow=True)

    assert "A pending order cannot become shipped." in response.text
    assert StoredEvent.objects.filter(type="OrderChangeRejected").exists()


def test_the_orders_console_is_for_staff_only(client, book):
    url, change = reverse("orders:staff_orders"), reverse("orders:change", args=[uuid4(), "confirm"])

    anonymous = client.get(url)
    client.force_login(AccountFactory())

    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("accounts:log_in"))
    assert client.get(url).status_code == 403
    assert client.post(change, key()).status_code == 403


def test_the_order_page_and_the_api_share_one_order_throttle(client, customer, book, monkeypatch):
    # given: a customer may place 2 orders an hour, and placed one through the API
    monkeypatch.setitem(OrderPlacementThrottle.THROTTLE_RATES, "orders", "2/hour")
    line = {"items": [{"book_id": str(book.pk), "quantity": 1}]}
    assert client.post("/api/v1/orders/", line, content_type="application/json").status_code == 201

    # when the page is used twice
    second = client.post(reverse("orders:place"), {"book_id": book.pk, "quantity": 1, **key()})
    third = client.post(reverse("orders:place"), {"book_id": book.pk, "quantity": 1, **key()})

    # then the second goes through and the third waits, with nothing placed
    assert second.status_code == 302
    assert third.status_code == 429 and int(third["Retry-After"]) > 0
    assert "Too many orders" in third.text
    assert Order.objects.count() == 2
