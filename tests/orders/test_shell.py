"""The bookshelf story told from the shell, as an operator would."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Book
from messaging.testing import relay
from orders.models import Order
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures


def send(*args):
    out = io.StringIO()
    call_command("send_command", *args, stdout=out, stderr=io.StringIO())
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db(transaction=True)  # real commits, as on the shell: policies run on commit
def test_the_bookshelf_story_from_the_shell(mailoutbox):
    AccountFactory(username="alice")
    send("AddBook", "title=The Great Gatsby", "author=F. Scott Fitzgerald", "isbn=9780743273565", "price=12.99")
    book = Book.objects.get()

    items = json.dumps([{"book_id": str(book.pk), "quantity": 2}])
    (placed, reserved) = send("PlaceOrder", f"items={items}", "--actor=@alice")
    order_id = placed["payload"]["order_id"]
    send("ConfirmOrder", f"order_id={order_id}")
    (shipped, stock_shipped, mail_queued) = send("ShipOrder", f"order_id={order_id}")

    assert placed["payload"]["items"][0]["unit_price"] == {"amount": "12.99", "currency": "USD"}
    assert [reserved["type"], shipped["type"], stock_shipped["type"], mail_queued["type"]] == [
        "StockReserved",
        "OrderShipped",
        "StockShipped",
        "MailQueued",
    ]
    assert Order.objects.get().status == "SHIPPED"
    assert figures(book) == (8, 0)
    assert mailoutbox == []  # the relay sends them
    relay()
    assert len(mailoutbox) == 2


def test_an_order_line_with_a_price_from_the_shell_is_bad_input(db):
    AccountFactory(username="alice")
    book = BookFactory()
    items = json.dumps([{"book_id": str(book.pk), "quantity": 1, "unit_price": "0.01"}])

    with pytest.raises(CommandError, match="unknown field") as error:
        send("PlaceOrder", f"items={items}", "--actor=@alice")
    assert error.value.returncode == 2
    assert not Order.objects.exists()


def test_a_refused_order_exits_1_with_its_code(db):
    AccountFactory(username="alice")
    book = BookFactory(inventory__on_hand=1)
    items = json.dumps([{"book_id": str(book.pk), "quantity": 2}])

    with pytest.raises(CommandError, match="refused: insufficient_stock") as error:
        send("PlaceOrder", f"items={items}", "--actor=@alice")
    assert error.value.returncode == 1
