"""The orders rows of the REST contract."""

import uuid

import pytest

from catalog.queries import book as book_view
from interfaces.throttles import OrderPlacementThrottle
from messaging import bus
from orders.models import Order
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

ORDER_FIELDS = {"id", "status", "items", "total", "currency", "placed_at"}


def order_of(customer, *lines) -> uuid.UUID:
    """Given: ``customer`` placed an order for these (book, copies) lines."""
    result = bus.dispatch(place(customer, *lines))
    assert result.ok, result.rejection
    return result.events[0].order_id


def test_placing_an_order_answers_201_pending_with_catalog_prices_and_holds_the_copies(alice, signed_in):
    # given
    gatsby = BookFactory(title="The Great Gatsby", price_amount="12.99", inventory__on_hand=5)
    dune = BookFactory(title="Dune", price_amount="9.50")

    # when
    response = signed_in(alice).post(
        "/api/v1/orders/",
        {"items": [{"book_id": str(gatsby.pk), "quantity": 2}, {"book_id": str(dune.pk), "quantity": 1}]},
        format="json",
    )

    # then
    assert response.status_code == 201
    assert set(response.data) == ORDER_FIELDS
    assert (response.data["status"], response.data["total"], response.data["currency"]) == ("PENDING", "35.48", "USD")
    assert response.data["items"][0] == {
        "book_id": str(gatsby.pk),
        "title": "The Great Gatsby",
        "quantity": 2,
        "unit_price": "12.99",
    }
    assert book_view(gatsby.pk).available == 3


def test_ordering_more_than_the_stock_answers_409_and_holds_nothing(alice, signed_in):
    # given
    plenty, scarce = BookFactory(inventory__on_hand=5), BookFactory(inventory__on_hand=1)

    # when
    response = signed_in(alice).post(
        "/api/v1/orders/",
        {"items": [{"book_id": str(plenty.pk), "quantity": 2}, {"book_id": str(scarce.pk), "quantity": 2}]},
        format="json",
    )

    # then
    assert (response.status_code, response.data["code"]) == (409, "insufficient_stock")
    assert (book_view(plenty.pk).available, book_view(scarce.pk).available) == (5, 1)
    assert not Order.objects.exists()


def test_ordering_an_unknown_book_answers_404_book_not_found(alice, signed_in):
    response = signed_in(alice).post(
        "/api/v1/orders/", {"items": [{"book_id": str(uuid.uuid4()), "quantity": 1}]}, format="json"
    )

    assert (response.status_code, response.data["code"]) == (404, "book_not_found")


def test_ordering_a_book_twice_in_one_order_answers_400_duplicate_book(alice, signed_in):
    book = BookFactory()
    line = {"book_id": str(book.pk), "quantity": 1}

    response = signed_in(alice).post("/api/v1/orders/", {"items": [line, line]}, format="json")

    assert (response.status_code, response.data["code"]) == (400, "duplicate_book")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": []},
        {"items": "all of them"},
        {"items": [{"book_id": "not-a-uuid", "quantity": 1}]},
        {"items": [{"book_id": str(uuid.uuid4()), "quantity": 0}]},
        {"items": [{"book_id": str(uuid.uuid4()), "quantity": 10**30}]},
        {"items": [{"book_id": str(uuid.uuid4()), "quantity": "2"}] * 51},
        {"items": [None]},
    ],
)
def test_a_malformed_order_answers_400_with_field_errors(alice, signed_in, body):
    response = signed_in(alice).post("/api/v1/orders/", body, format="json")

    assert response.status_code == 400
    assert "items" in response.data["fields"]


def test_customers_list_their_own_orders_and_staff_list_all(alice, bob, staff, signed_in):
    book = BookFactory()
    mine, theirs = order_of(alice, (book, 1)), order_of(bob, (book, 1))

    own = signed_in(alice).get("/api/v1/orders/")
    every = signed_in(staff).get("/api/v1/orders/")

    assert [row["id"] for row in own.data["results"]] == [str(mine)]
    assert {row["id"] for row in every.data["results"]} == {str(mine), str(theirs)}


def test_orders_are_filtered_by_status_and_a_customer_still_sees_only_their_own(alice, bob, staff, signed_in):
    # given
    book = BookFactory()
    pending, cancelled = order_of(alice, (book, 1)), order_of(alice, (book, 1))
    theirs = order_of(bob, (book, 1))
    assert signed_in(alice).post(f"/api/v1/orders/{cancelled}/cancel/").status_code == 200

    # when
    own_pending = signed_in(alice).get("/api/v1/orders/", {"status": "PENDING"})
    all_pending = signed_in(staff).get("/api/v1/orders/", {"status": "PENDING"})
    own_cancelled = signed_in(alice).get("/api/v1/orders/", {"status": "CANCELLED"})

    # then
    assert [row["id"] for row in own_pending.data["results"]] == [str(pending)]
    assert {row["id"] for row in all_pending.data["results"]} == {str(pending), str(theirs)}
    assert [row["id"] for row in own_cancelled.data["results"]] == [str(cancelled)]


def test_an_unknown_order_status_answers_400_naming_it(alice, signed_in):
    response = signed_in(alice).get("/api/v1/orders/", {"status": "LOST"})

    assert (response.status_code, response.data["code"]) == (400, "invalid")
    assert set(response.data["fields"]) == {"status"}


def test_a_customer_reads_their_order_and_someone_elses_answers_404(alice, bob, signed_in):
    order_id = order_of(alice, (BookFactory(), 1))

    own = signed_in(alice).get(f"/api/v1/orders/{order_id}/")
    other = signed_in(bob).get(f"/api/v1/orders/{order_id}/")

    assert (own.status_code, own.data["id"]) == (200, str(order_id))
    assert (other.status_code, other.data["code"]) == (404, "not_found")


def test_staff_confirm_then_ship_an_order(alice, staff, signed_in):
    order_id = order_of(alice, (BookFactory(), 1))
    client = signed_in(staff)

    confirmed = client.post(f"/api/v1/orders/{order_id}/confirm/")
    shipped = client.post(f"/api/v1/orders/{order_id}/ship/")

    assert (confirmed.status_code, confirmed.data["status"]) == (200, "CONFIRMED")
    assert (shipped.status_code, shipped.data["status"]) == (200, "SHIPPED")


@pytest.mark.parametrize("step", ["ship", "cancel"])
def test_a_move_the_status_does_not_allow_answers_409_invalid_transition(alice, staff, signed_in, step):
    order_id = order_of(alice, (BookFactory(), 1))
    client = signed_in(staff)
    client.post(f"/api/v1/orders/{order_id}/confirm/")
    client.post(f"/api/v1/orders/{order_id}/ship/")

    response = client.post(f"/api/v1/orders/{order_id}/{step}/")

    assert (response.status_code, response.data["code"]) == (409, "invalid_transition")


def test_the_customer_cancels_their_order(alice, signed_in):
    order_id = order_of(alice, (BookFactory(), 1))

    response = signed_in(alice).post(f"/api/v1/orders/{order_id}/cancel/")

    assert (response.status_code, response.data["status"]) == (200, "CANCELLED")


def test_cancelling_someone_elses_order_answers_404_and_changes_nothing(alice, bob, signed_in):
    order_id = order_of(alice, (BookFactory(), 1))

    response = signed_in(bob).post(f"/api/v1/orders/{order_id}/cancel/")

    assert (response.status_code, response.data["code"]) == (404, "order_not_found")
    assert Order.objects.get(pk=order_id).status == "PENDING"


@pytest.mark.parametrize("step", ["confirm", "ship", "cancel"])
def test_moving_an_unknown_order_answers_404(staff, signed_in, step):
    response = signed_in(staff).post(f"/api/v1/orders/{uuid.uuid4()}/{step}/")

    assert (response.status_code, response.data["code"]) == (404, "order_not_found")


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_orders_copies_are_back_on_sale_when_the_answer_arrives(signed_in):
    # given
    alice = AccountFactory()
    book = BookFactory(inventory__on_hand=3)
    order_id = order_of(alice, (book, 2))
    assert book_view(book.pk).available == 1

    # when
    response = signed_in(alice).post(f"/api/v1/orders/{order_id}/cancel/")

    # then
    assert response.status_code == 200
    assert book_view(book.pk).available == 3


def test_placing_orders_faster_than_the_throttle_answers_429_and_places_nothing_more(alice, signed_in, monkeypatch):
    # given: a customer may place 2 orders an hour, and placed 2
    monkeypatch.setitem(OrderPlacementThrottle.THROTTLE_RATES, "orders", "2/hour")
    book, client = BookFactory(), signed_in(alice)
    line = {"items": [{"book_id": str(book.pk), "quantity": 1}]}
    assert [client.post("/api/v1/orders/", line, format="json").status_code for _ in range(2)] == [201, 201]

    # when
    response = client.post("/api/v1/orders/", line, format="json")

    # then
    assert (response.status_code, response.data["code"]) == (429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert Order.objects.count() == 2


def test_the_order_throttle_counts_per_customer_not_per_address(alice, signed_in, monkeypatch):
    monkeypatch.setitem(OrderPlacementThrottle.THROTTLE_RATES, "orders", "1/hour")
    book = BookFactory()
    line = {"items": [{"book_id": str(book.pk), "quantity": 1}]}
    signed_in(alice).post("/api/v1/orders/", line, format="json")

    response = signed_in(AccountFactory()).post("/api/v1/orders/", line, format="json")

    assert response.status_code == 201
