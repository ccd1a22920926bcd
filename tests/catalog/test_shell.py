"""The catalog's commands from the shell: money, ISBNs and quantities as typed."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Book
from tests.support.factories import BookFactory
from tests.support.stock import figures


def send(*args):
    out = io.StringIO()
    call_command("send_command", *args, stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db(transaction=True)  # real commits, as on the shell: the stocking policy runs on commit
def test_a_book_added_from_the_shell_has_an_exact_price_and_its_stock():
    added, stocked = send("AddBook", "title=Dune", "author=Frank Herbert", "price=12.50", "isbn=9780441013593")

    assert added["payload"]["price"] == {"amount": "12.50", "currency": "USD"}
    assert (stocked["type"], stocked["payload"]["on_hand"]) == ("BookStocked", 10)


def test_a_price_in_another_currency_is_typed_with_its_code(db):
    (added, *_) = send("AddBook", "title=Dune", "author=Frank Herbert", "price=12.50 EUR")

    assert added["payload"]["price"] == {"amount": "12.50", "currency": "EUR"}


def test_a_book_is_named_by_its_isbn_on_the_shell(db):
    book = BookFactory(isbn="9780441013593")

    send("RestockBook", "book_id=isbn:0-441-01359-7", "quantity=5")

    assert figures(book) == (15, 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["RestockBook", "book_id=isbn:9780441013593", "quantity=1"], "no book has ISBN 9780441013593"),
        (["RestockBook", "book_id=isbn:123", "quantity=1"], "'123' is not a valid ISBN"),
        (["AddBook", "title=Dune", "author=F", "price=12.505"], "at most two decimal places"),
        (["AddBook", "title=Dune", "author=F", "price=12 XYZ"], "not an ISO 4217 currency"),
        (["AddBook", "title=Dune", "author=F", "price=1", "isbn=9780441013594"], "not a valid ISBN"),
    ],
)
def test_bad_catalog_input_exits_2_with_a_readable_message(db, args, message):
    with pytest.raises(CommandError, match=message) as error:
        send(*args)
    assert error.value.returncode == 2
    assert not Book.objects.exists()


@pytest.mark.parametrize("quantity", ["2.5", "Infinity", "true"])
def test_a_quantity_that_is_no_whole_number_exits_2(db, quantity):
    book = BookFactory()

    with pytest.raises(CommandError, match="is not a valid int") as error:
        send("RestockBook", f"book_id={book.pk}", f"quantity={quantity}")
    assert error.value.returncode == 2
