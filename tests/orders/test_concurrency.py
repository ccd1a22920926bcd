"""No interleaving of concurrent orders sells more than the stock (PostgreSQL row locks)."""

import pytest

from catalog.commands import AddBook
from catalog.models import Book, Inventory
from catalog.values import Isbn, Money
from messaging import bus
from messaging.messages import Result
from orders.models import Order
from tests.support.concurrency import run_concurrently
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures, place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_thirty_concurrent_single_copy_orders_against_ten_in_stock_sell_exactly_ten():
    bus.dispatch(AddBook(title="The Great Gatsby", author="F. Scott Fitzgerald", price=Money(13)))
    book = Book.objects.get()
    assert figures(book) == (10, 0)
    customers = [AccountFactory() for _ in range(30)]

    results = run_concurrently(
        [lambda customer=customer: bus.dispatch(place(customer, (book, 1))) for customer in customers]
    )

    assert all(isinstance(result, Result) for result in results), results
    refusals = [result.rejection.code for result in results if not result.ok]
    assert (len(results) - len(refusals), refusals) == (10, ["insufficient_stock"] * 20)
    assert Order.objects.count() == 10
    assert figures(book) == (10, 10)


def test_concurrent_multi_book_orders_in_opposite_orders_neither_deadlock_nor_oversell():
    first, second = BookFactory(inventory__on_hand=5), BookFactory(inventory__on_hand=5)
    customers = [AccountFactory() for _ in range(12)]

    results = run_concurrently(
        [
            lambda customer=customer, index=index: bus.dispatch(
                place(customer, *([(first, 1), (second, 1)] if index % 2 else [(second, 1), (first, 1)]))
            )
            for index, customer in enumerate(customers)
        ]
    )

    assert all(isinstance(result, Result) for result in results), results
    assert sum(result.ok for result in results) == 5
    assert (figures(first), figures(second)) == ((5, 5), (5, 5))
    assert not Inventory.objects.filter(reserved__gt=5).exists()


def test_the_same_isbn_added_concurrently_is_added_once_and_refused_for_the_rest():
    def add():
        return bus.dispatch(AddBook(title="Dune", author="Frank Herbert", price=Money(9), isbn=Isbn("9780441013593")))

    results = run_concurrently([add for _ in range(8)])

    assert all(isinstance(result, Result) for result in results), results
    assert sorted(result.rejection.code if result.rejection else "added" for result in results) == [
        "added",
        *["duplicate_isbn"] * 7,
    ]
    assert Book.objects.count() == 1


def test_concurrent_orders_of_one_customer_never_hold_more_than_the_cap(settings):
    # given: a customer may hold 3 copies, and the shop has plenty
    settings.ORDERS_MAX_HELD_COPIES = 3
    book = BookFactory(inventory__on_hand=50)
    customer = AccountFactory()

    # when: ten single-copy orders of hers arrive at once
    results = run_concurrently([lambda: bus.dispatch(place(customer, (book, 1))) for _ in range(10)])

    # then
    assert all(isinstance(result, Result) for result in results), results
    refusals = [result.rejection.code for result in results if not result.ok]
    assert refusals == ["hold_limit_reached"] * 7
    assert figures(book) == (50, 3)
