"""The rules of orders, without a database: an unsaved ``Order`` moves itself,
and the placing rules decide from plain values. (No ``db`` fixture: any
query here would fail the test.)"""

import uuid
from decimal import Decimal

import pytest

from accounts.queries import AccountSummary
from catalog.queries import PricedBook
from catalog.values import Money
from messaging.messages import Refused
from orders import rules
from orders.events import OrderCancelled, OrderConfirmed, OrderShipped
from orders.models import Order
from orders.values import MAX_LINES, MAX_QUANTITY, OrderedItem, OrderLine

CUSTOMER = uuid.uuid4()
STRANGER = uuid.uuid4()


def an_order(status=Order.Status.PENDING) -> Order:
    return Order(customer_id=CUSTOMER, status=status, total_amount=Decimal("10.00"), currency="EUR")


def refusal(refused: pytest.ExceptionInfo[Refused]) -> tuple[str, str]:
    return type(refused.value.rejection).__name__, refused.value.rejection.code


# --- Moves --------------------------------------------------------------------


def test_a_pending_order_confirms():
    order = an_order()

    confirmed = order.confirm()

    assert confirmed == OrderConfirmed(
        order_id=order.pk, customer_id=CUSTOMER, event_id=confirmed.event_id, occurred_at=confirmed.occurred_at
    )
    assert order.status == Order.Status.CONFIRMED


def test_a_confirmed_order_ships():
    order = an_order(Order.Status.CONFIRMED)

    shipped = order.ship()

    assert (type(shipped), shipped.order_id, order.status) == (OrderShipped, order.pk, Order.Status.SHIPPED)


@pytest.mark.parametrize(
    ("status", "move"),
    [
        (Order.Status.PENDING, Order.ship),
        (Order.Status.CONFIRMED, Order.confirm),
        (Order.Status.SHIPPED, Order.confirm),
        (Order.Status.CANCELLED, Order.ship),
    ],
)
def test_a_move_its_status_does_not_allow_is_refused_and_changes_nothing(status, move):
    order = an_order(status)

    with pytest.raises(Refused) as refused:
        move(order)

    assert refusal(refused) == ("OrderChangeRejected", "invalid_transition")
    assert order.status == status


@pytest.mark.parametrize("status", [Order.Status.PENDING, Order.Status.CONFIRMED])
def test_its_customer_cancels_an_order_before_it_ships(status):
    order = an_order(status)

    cancelled = order.cancel(actor_id=CUSTOMER, actor_is_staff=False)

    assert (type(cancelled), order.status) == (OrderCancelled, Order.Status.CANCELLED)


def test_staff_cancel_anyones_order():
    order = an_order()

    order.cancel(actor_id=STRANGER, actor_is_staff=True)

    assert order.status == Order.Status.CANCELLED


def test_a_command_with_no_actor_cancels_too():
    order = an_order()

    order.cancel(actor_id=None, actor_is_staff=False)

    assert order.status == Order.Status.CANCELLED


def test_someone_elses_order_cannot_be_cancelled_and_does_not_exist_for_them():
    order = an_order()

    with pytest.raises(Refused) as refused:
        order.cancel(actor_id=STRANGER, actor_is_staff=False)

    assert refusal(refused) == ("OrderChangeRejected", "order_not_found")
    assert order.status == Order.Status.PENDING


def test_a_shipped_order_is_not_cancelled_even_by_its_customer():
    order = an_order(Order.Status.SHIPPED)

    with pytest.raises(Refused) as refused:
        order.cancel(actor_id=CUSTOMER, actor_is_staff=False)

    assert refusal(refused) == ("OrderChangeRejected", "invalid_transition")


@pytest.mark.parametrize(
    ("actor_id", "staff", "theirs"), [(CUSTOMER, False, True), (STRANGER, True, True), (STRANGER, False, False)]
)
def test_an_order_is_its_customers_and_staffs(actor_id, staff, theirs):
    assert rules.is_theirs(CUSTOMER, actor_id=actor_id, actor_is_staff=staff) is theirs


# --- Placing ------------------------------------------------------------------


def summary(*, active=True) -> AccountSummary:
    return AccountSummary(CUSTOMER, "carol", "carol@example.com", is_active=active, is_staff=False)


def test_the_customer_is_the_signed_in_active_actor():
    assert rules.customer(CUSTOMER, summary()) == summary()


@pytest.mark.parametrize(
    ("actor_id", "account", "code"),
    [
        (None, None, "customer_required"),
        (CUSTOMER, None, "account_not_found"),
        (CUSTOMER, summary(active=False), "account_inactive"),
    ],
)
def test_no_order_without_an_active_customer(actor_id, account, code):
    with pytest.raises(Refused) as refused:
        rules.customer(actor_id, account)

    assert refusal(refused) == ("OrderRejected", code)


def lines(*quantities: int) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(book_id=uuid.uuid4(), quantity=quantity) for quantity in quantities)


def test_lines_within_the_limits_are_accepted():
    rules.check_lines(lines(1, MAX_QUANTITY, *[1] * (MAX_LINES - 2)))


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ((), "empty_order"),
        (lines(*[1] * (MAX_LINES + 1)), "too_many_items"),
        (lines(0), "invalid_quantity"),
        (lines(MAX_QUANTITY + 1), "invalid_quantity"),
    ],
    ids=["empty", "too many books", "no copies", "too many copies"],
)
def test_lines_outside_the_limits_are_refused(given, code):
    with pytest.raises(Refused) as refused:
        rules.check_lines(given)

    assert refusal(refused) == ("OrderRejected", code)


def test_a_book_twice_is_refused():
    line = OrderLine(book_id=uuid.uuid4(), quantity=1)

    with pytest.raises(Refused) as refused:
        rules.check_lines((line, line))

    assert refusal(refused) == ("OrderRejected", "duplicate_book")


def catalog_of(given: tuple[OrderLine, ...], *currencies: str) -> dict[uuid.UUID, PricedBook]:
    return {
        line.book_id: PricedBook(line.book_id, f"Book {n}", Money(Decimal("12.50"), currency))
        for n, (line, currency) in enumerate(zip(given, currencies, strict=True))
    }


def test_lines_are_priced_at_the_catalogs_price():
    given = lines(2, 1)

    items = rules.priced(given, catalog_of(given, "EUR", "EUR"))

    price = Money(Decimal("12.50"), "EUR")
    assert items == tuple(
        OrderedItem(book_id=line.book_id, title=f"Book {n}", quantity=line.quantity, unit_price=price)
        for n, line in enumerate(given)
    )


def test_a_book_the_catalog_does_not_know_is_refused():
    given = lines(1, 1)

    with pytest.raises(Refused) as refused:
        rules.priced(given, catalog_of(given[:1], "EUR"))

    assert refusal(refused) == ("OrderRejected", "book_not_found")


def test_books_in_two_currencies_are_refused():
    given = lines(1, 1)

    with pytest.raises(Refused) as refused:
        rules.priced(given, catalog_of(given, "EUR", "USD"))

    assert refusal(refused) == ("OrderRejected", "mixed_currencies")


# --- What one customer may hold ---------------------------------------------------


def test_an_order_up_to_both_caps_is_accepted():
    rules.within_caps(lines(2, 3), held=5, per_order=5, per_customer=10)


def test_an_order_for_more_copies_than_one_order_may_hold_is_refused():
    with pytest.raises(Refused) as refused:
        rules.within_caps(lines(3, 3), held=0, per_order=5, per_customer=100)

    assert refusal(refused) == ("OrderRejected", "order_too_large")
    assert "at most 5 copies" in refused.value.rejection.reason


def test_an_order_taking_the_customer_past_what_pending_orders_may_hold_is_refused():
    with pytest.raises(Refused) as refused:
        rules.within_caps(lines(2), held=9, per_order=5, per_customer=10)

    assert refusal(refused) == ("OrderRejected", "hold_limit_reached")
    assert "9 copies" in refused.value.rejection.reason
