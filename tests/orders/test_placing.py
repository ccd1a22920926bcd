"""Placing an order: prices from the catalog, stock held for every line or none."""

from decimal import Decimal
from uuid import uuid4

import pytest
from django.core.exceptions import ValidationError

from catalog.commands import ChangeBookPrice
from catalog.events import StockReserved
from catalog.values import Money
from messaging.serialization import from_primitive
from orders.commands import CancelOrder, ConfirmOrder, PlaceOrder
from orders.events import OrderPlaced
from orders.models import Order
from orders.queries import order as order_view
from orders.values import MAX_LINES, MAX_QUANTITY, OrderedItem, OrderLine
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return AccountFactory(username="alice")


def test_an_order_holds_its_copies_and_records_the_catalog_title_and_price(scenario, alice):
    gatsby = BookFactory(title="The Great Gatsby", price_amount=Decimal("12.99"))
    dune = BookFactory(title="Dune", price_amount=Decimal("9.50"))

    outcome = scenario.when(place(alice, (gatsby, 2), (dune, 1)))

    outcome.then_events(OrderPlaced, StockReserved, StockReserved)
    placed = order_view(outcome.events[0].order_id)
    assert (placed.customer_id, placed.status, placed.total) == (alice.pk, "PENDING", Money(Decimal("35.48")))
    assert set(placed.items) == {
        OrderedItem(book_id=gatsby.pk, title="The Great Gatsby", quantity=2, unit_price=Money(Decimal("12.99"))),
        OrderedItem(book_id=dune.pk, title="Dune", quantity=1, unit_price=Money(Decimal("9.50"))),
    }
    assert (figures(gatsby), figures(dune)) == ((10, 2), (10, 1))


def test_an_order_keeps_the_price_it_was_placed_at(scenario, alice):
    gatsby = BookFactory(price_amount=Decimal("12.99"))
    (placed,) = scenario.given(place(alice, (gatsby, 1)))

    scenario.given(ChangeBookPrice(book_id=gatsby.pk, price=Money(Decimal("20.00"))))

    assert order_view(placed.events[0].order_id).total == Money(Decimal("12.99"))


def test_a_client_cannot_send_a_price_with_an_order_line():
    with pytest.raises(ValidationError, match="unknown field"):
        from_primitive(tuple[OrderLine, ...], [{"book_id": str(uuid4()), "quantity": 1, "unit_price": "0.01"}])


def test_an_order_for_more_than_is_available_is_refused_naming_the_book_and_what_is_left(scenario, alice):
    gatsby = BookFactory(title="The Great Gatsby", inventory__on_hand=5, inventory__reserved=2)

    outcome = scenario.when(place(alice, (gatsby, 4)))

    outcome.then_rejected("insufficient_stock")
    assert "Only 3 of “The Great Gatsby”" in outcome.result.rejection.reason
    assert figures(gatsby) == (5, 2)
    assert not Order.objects.exists()


def test_a_multi_book_order_holds_nothing_when_one_book_is_short(scenario, alice):
    plenty, scarce, more = BookFactory(), BookFactory(inventory__on_hand=1), BookFactory()

    scenario.when(place(alice, (plenty, 2), (scarce, 2), (more, 1))).then_rejected("insufficient_stock")

    assert [figures(book) for book in (plenty, scarce, more)] == [(10, 0), (1, 0), (10, 0)]
    assert not Order.objects.exists()


def test_an_order_with_an_unknown_book_is_refused_and_holds_nothing(scenario, alice):
    known = BookFactory()
    unknown = OrderLine(book_id=uuid4(), quantity=1)

    outcome = scenario.when(PlaceOrder(items=(OrderLine(book_id=known.pk, quantity=1), unknown), actor_id=alice.pk))

    outcome.then_rejected("book_not_found")
    assert figures(known) == (10, 0)


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1])
def test_a_quantity_below_one_or_above_the_bound_is_refused(scenario, alice, quantity):
    book = BookFactory(inventory__on_hand=1000)

    scenario.when(place(alice, (book, quantity))).then_rejected("invalid_quantity")


def test_an_empty_order_is_refused(scenario, alice):
    scenario.when(PlaceOrder(items=(), actor_id=alice.pk)).then_rejected("empty_order")


def test_an_order_of_too_many_different_books_is_refused(scenario, alice):
    books = [BookFactory() for _ in range(MAX_LINES + 1)]

    scenario.when(place(alice, *[(book, 1) for book in books])).then_rejected("too_many_items")


def test_the_same_book_twice_in_one_order_is_refused(scenario, alice):
    book = BookFactory()

    scenario.when(place(alice, (book, 1), (book, 2))).then_rejected("duplicate_book")


def test_books_priced_in_different_currencies_are_not_ordered_together(scenario, alice):
    dollars, euros = BookFactory(), BookFactory(price_currency="EUR")

    scenario.when(place(alice, (dollars, 1), (euros, 1))).then_rejected("mixed_currencies")
    assert (figures(dollars), figures(euros)) == ((10, 0), (10, 0))


def test_an_order_without_a_signed_in_customer_is_refused(scenario):
    book = BookFactory()

    scenario.when(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),))).then_rejected("customer_required")


def test_an_order_by_an_unknown_account_is_refused(scenario):
    book = BookFactory()
    command = PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=uuid4())

    scenario.when(command).then_rejected("account_not_found")


def test_an_order_by_a_deactivated_account_is_refused(scenario):
    book, gone = BookFactory(), AccountFactory(is_active=False)

    scenario.when(place(gone, (book, 1))).then_rejected("account_inactive")
    assert figures(book) == (10, 0)


def test_a_customer_holds_no_more_copies_in_pending_orders_than_the_cap(scenario, alice, settings):
    # given: alice's pending orders hold 3 copies, the most a customer may hold
    settings.ORDERS_MAX_HELD_COPIES = 3
    gatsby, dune = BookFactory(), BookFactory()
    scenario.given(place(alice, (gatsby, 2)), place(alice, (dune, 1)))

    # when
    outcome = scenario.when(place(alice, (gatsby, 1)))

    # then
    outcome.then_rejected("hold_limit_reached")
    assert figures(gatsby) == (10, 2)


def test_copies_of_an_order_that_no_longer_waits_count_no_more_against_the_cap(scenario, alice, settings):
    # given: one of alice's pending orders took her to the cap; she cancels it
    settings.ORDERS_MAX_HELD_COPIES = 3
    gatsby = BookFactory()
    (placed,) = scenario.given(place(alice, (gatsby, 3)))
    scenario.given(CancelOrder(order_id=placed.events[0].order_id, actor_id=alice.pk))

    # when / then
    scenario.when(place(alice, (gatsby, 3))).then_events(OrderPlaced, StockReserved)


def test_copies_of_a_confirmed_order_count_no_more_against_the_cap(scenario, alice, settings):
    # given: alice's pending order took her to the cap; the shop confirms it
    settings.ORDERS_MAX_HELD_COPIES = 3
    gatsby = BookFactory()
    (placed,) = scenario.given(place(alice, (gatsby, 3)))
    scenario.given(ConfirmOrder(order_id=placed.events[0].order_id))

    # when / then
    scenario.when(place(alice, (gatsby, 3))).then_events(OrderPlaced, StockReserved)


def test_a_refused_order_leaves_the_copies_a_customer_holds_as_they_were(scenario, alice, settings):
    # given: alice holds 2 of her 3 copies; an order of 2 more is refused
    settings.ORDERS_MAX_HELD_COPIES = 3
    gatsby = BookFactory()
    scenario.given(place(alice, (gatsby, 2)))
    scenario.when(place(alice, (gatsby, 2))).then_rejected("hold_limit_reached")

    # when / then: the refused 2 were not counted, so 1 more still fits
    scenario.when(place(alice, (gatsby, 1))).then_events(OrderPlaced, StockReserved)


def test_an_order_for_more_copies_than_one_order_may_hold_is_refused_and_holds_nothing(scenario, alice, settings):
    settings.ORDERS_MAX_COPIES_PER_ORDER = 4
    gatsby, dune = BookFactory(), BookFactory()

    outcome = scenario.when(place(alice, (gatsby, 3), (dune, 2)))

    outcome.then_rejected("order_too_large")
    assert (figures(gatsby), figures(dune)) == ((10, 0), (10, 0))


def test_other_customers_orders_do_not_count_against_a_customers_cap(scenario, alice, settings):
    settings.ORDERS_MAX_HELD_COPIES = 3
    gatsby = BookFactory()
    scenario.given(place(AccountFactory(), (gatsby, 3)))

    scenario.when(place(alice, (gatsby, 3))).then_events(OrderPlaced, StockReserved)
