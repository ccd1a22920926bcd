"""The catalog's rules: adding, stocking, restocking and repricing books."""

import io
from decimal import Decimal
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from catalog.commands import AddBook, ChangeBookPrice, RestockBook, StockNewBook
from catalog.events import BookAdded, BookPriceChanged, BookRestocked, BookStocked
from catalog.models import Book, Inventory
from catalog.queries import book as book_view
from catalog.values import Isbn, Money
from messaging import relay as runner
from messaging.models import Delivery
from tests.support.factories import BookFactory, InventoryFactory
from tests.support.stock import figures

pytestmark = pytest.mark.django_db


def add_book(**fields) -> AddBook:
    return AddBook(**{"title": "Dune", "author": "Frank Herbert", "price": Money(Decimal("9.99")), **fields})


def relay():
    call_command("relay_events", stdout=io.StringIO())


def test_a_new_book_is_stocked_with_the_initial_stock_after_commit(scenario, settings):
    settings.INITIAL_STOCK = 3

    outcome = scenario.when(add_book())

    outcome.then_events(BookAdded).then_cascade(BookAdded, BookStocked).then_deliveries(done=1)
    assert figures(Book.objects.get()) == (3, 0)
    assert outcome.cascade[1].causation_id == outcome.events[0].event_id


def test_a_book_is_stored_with_its_isbn_13_and_its_price(scenario):
    scenario.when(add_book(isbn=Isbn("0-441-01359-7"), price=Money(Decimal("8.50"), "EUR"), title="  Dune "))

    view = book_view(Book.objects.get().pk)
    assert (view.title, view.isbn, view.price) == ("Dune", "9780441013593", Money(Decimal("8.50"), "EUR"))


def test_the_same_isbn_twice_is_refused_whichever_form_it_was_typed_in(scenario):
    scenario.given(add_book(isbn=Isbn("9780441013593")))

    outcome = scenario.when(add_book(isbn=Isbn("0-441-01359-7")))

    outcome.then_rejected("duplicate_isbn")
    assert Book.objects.count() == 1


def test_books_without_an_isbn_do_not_clash(scenario):
    scenario.given(add_book(), add_book())

    assert Book.objects.filter(isbn=None).count() == 2


@pytest.mark.parametrize("fields", [{"title": "  "}, {"author": "x" * 151}, {"description": "x" * 10_001}])
def test_a_book_without_a_title_or_with_absurd_text_is_refused(scenario, fields):
    scenario.when(add_book(**fields)).then_rejected("invalid_book")
    assert not Book.objects.exists()


def test_an_absurd_price_is_refused(scenario):
    scenario.when(add_book(price=Money(Decimal("100000.01")))).then_rejected("invalid_price")


def test_relaying_a_done_stocking_again_changes_nothing(scenario):
    scenario.given(add_book())
    stocking = Delivery.objects.get()

    assert runner.deliver(stocking.pk) is None
    relay()

    assert figures(Book.objects.get()) == (10, 0)


def test_a_stocking_delivery_run_a_second_time_stocks_nothing_more(scenario):
    scenario.given(add_book())
    Delivery.objects.update(status=Delivery.Status.PENDING)

    relay()

    assert Delivery.objects.get().status == Delivery.Status.DONE
    assert figures(Book.objects.get()) == (10, 0)


def test_initial_stock_counts_once_per_book(scenario):
    book = BookFactory(inventory__on_hand=4, inventory__initial_stock_received=True)

    scenario.when(StockNewBook(book_id=book.pk, quantity=10), as_policy="stock_new_book").then_no_change()

    assert figures(book) == (4, 0)


def test_a_negative_initial_stock_is_refused(scenario):
    book = BookFactory(inventory__on_hand=0, inventory__initial_stock_received=False)

    scenario.when(StockNewBook(book_id=book.pk, quantity=-1), as_policy="stock_new_book").then_rejected(
        "invalid_quantity"
    )
    assert figures(book) == (0, 0)


def test_restocking_adds_to_what_is_on_hand(scenario):
    book = BookFactory(inventory__on_hand=4, inventory__reserved=1)

    outcome = scenario.when(RestockBook(book_id=book.pk, quantity=6))

    outcome.then_events(BookRestocked)
    assert outcome.events[0].on_hand == 10
    assert figures(book) == (10, 1)


@pytest.mark.parametrize("quantity", [0, -1, 10_001])
def test_restocking_a_quantity_out_of_bounds_is_refused(scenario, quantity):
    book = BookFactory()

    scenario.when(RestockBook(book_id=book.pk, quantity=quantity)).then_rejected("invalid_quantity")
    assert figures(book) == (10, 0)


def test_restocking_past_the_stock_limit_is_refused(scenario):
    book = BookFactory(inventory__on_hand=Inventory.MAX_ON_HAND - 5)

    scenario.when(RestockBook(book_id=book.pk, quantity=6)).then_rejected("invalid_quantity")


@pytest.mark.parametrize(
    "command",
    [
        RestockBook(book_id=uuid4(), quantity=1),
        ChangeBookPrice(book_id=uuid4(), price=Money(1)),
    ],
    ids=["restock", "change price"],
)
def test_a_command_for_an_unknown_book_is_refused(scenario, command):
    scenario.when(command).then_rejected("book_not_found")


def test_changing_the_price_records_the_old_and_the_new_one(scenario):
    book = BookFactory(price_amount=Decimal("12.99"))

    outcome = scenario.when(ChangeBookPrice(book_id=book.pk, price=Money(Decimal("10.00"), "EUR")))

    outcome.then_events(BookPriceChanged)
    assert (outcome.events[0].previous_price, outcome.events[0].price) == (Money(Decimal("12.99")), Money(10, "EUR"))
    assert book_view(book.pk).price == Money(10, "EUR")


def test_changing_to_the_same_price_changes_nothing(scenario):
    book = BookFactory(price_amount=Decimal("12.99"))

    scenario.when(ChangeBookPrice(book_id=book.pk, price=Money(Decimal("12.99")))).then_no_change()


def test_changing_to_an_absurd_price_is_refused(scenario):
    book = BookFactory()

    scenario.when(ChangeBookPrice(book_id=book.pk, price=Money(200_000))).then_rejected("invalid_price")


def test_the_database_refuses_more_reserved_than_on_hand():
    inventory = InventoryFactory(on_hand=2)

    inventory.reserved = 3
    with pytest.raises(IntegrityError):
        inventory.save()
