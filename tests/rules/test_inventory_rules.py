"""The rules of the catalog's stock and prices, without a database: unsaved
``Inventory`` and ``Book`` rows decide for themselves. (No ``db`` fixture:
any query here would fail the test.)"""

import uuid
from decimal import Decimal

import pytest

from catalog.events import BookRestocked, BookStocked, StockReleased, StockReserved, StockShipped
from catalog.models import Book, Inventory
from catalog.rules import InsufficientStock
from catalog.values import Money
from messaging.messages import Refused

ORDER = uuid.uuid4()


def an_inventory(*, on_hand=10, reserved=0, initial_stock_received=True) -> Inventory:
    book = Book(title="Dune", author="Frank Herbert", price_amount=Decimal("9.99"))
    return Inventory(book=book, on_hand=on_hand, reserved=reserved, initial_stock_received=initial_stock_received)


def test_copies_available_are_held_for_an_order():
    inventory = an_inventory(on_hand=10, reserved=3)

    reserved = inventory.hold(ORDER, 7)

    assert (type(reserved), reserved.order_id, reserved.quantity) == (StockReserved, ORDER, 7)
    assert (inventory.reserved, inventory.available) == (10, 0)


def test_more_copies_than_available_are_not_held():
    inventory = an_inventory(on_hand=10, reserved=8)

    with pytest.raises(InsufficientStock) as short:
        inventory.hold(ORDER, 3)

    assert (short.value.title, short.value.requested, short.value.available) == ("Dune", 3, 2)
    assert inventory.reserved == 8


def test_released_copies_are_available_again():
    inventory = an_inventory(on_hand=10, reserved=4)

    released = inventory.release(ORDER, 4)

    assert (type(released), inventory.reserved, inventory.available) == (StockReleased, 0, 10)


def test_shipped_copies_leave_on_hand_and_reserved():
    inventory = an_inventory(on_hand=10, reserved=4)

    shipped = inventory.ship(ORDER, 4)

    assert (type(shipped), inventory.on_hand, inventory.reserved) == (StockShipped, 6, 0)


def test_a_restock_adds_copies_on_hand():
    inventory = an_inventory(on_hand=10)

    restocked = inventory.restock(5)

    assert restocked == BookRestocked(
        book_id=inventory.book_id,
        quantity=5,
        on_hand=15,
        event_id=restocked.event_id,
        occurred_at=restocked.occurred_at,
    )


def test_a_restock_past_the_most_a_book_may_have_is_refused():
    inventory = an_inventory(on_hand=Inventory.MAX_ON_HAND - 5)

    with pytest.raises(Refused) as refused:
        inventory.restock(6)

    assert refused.value.rejection.code == "invalid_quantity"
    assert inventory.on_hand == Inventory.MAX_ON_HAND - 5


def test_a_new_book_receives_its_initial_stock_once():
    inventory = an_inventory(on_hand=0, initial_stock_received=False)

    first = inventory.stock_initially(10)
    again = inventory.stock_initially(10)

    assert (type(first), first.on_hand, again, inventory.on_hand) == (BookStocked, 10, None, 10)


def test_a_new_price_is_changed_and_the_same_price_is_nothing():
    book = Book(title="Dune", author="Frank Herbert", price_amount=Decimal("9.99"), price_currency="USD")

    changed = book.change_price(Money(Decimal("12.00"), "EUR"))
    unchanged = book.change_price(Money(Decimal("12.00"), "EUR"))

    assert (changed.previous_price, changed.price) == (Money(Decimal("9.99")), Money(Decimal("12.00"), "EUR"))
    assert (unchanged, book.price) == (None, Money(Decimal("12.00"), "EUR"))
