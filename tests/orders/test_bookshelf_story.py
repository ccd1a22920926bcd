"""The bookshelf story: a book is added and stocked, ordered, confirmed, shipped."""

from decimal import Decimal

from catalog.commands import AddBook
from catalog.events import BookAdded, BookStocked, StockReserved, StockShipped
from catalog.models import Book
from catalog.values import Isbn, Money
from messaging.testing import relay
from orders.commands import ConfirmOrder, ShipOrder
from orders.events import OrderConfirmed, OrderPlaced, OrderShipped
from orders.queries import order as order_view
from tests.support.factories import AccountFactory
from tests.support.stock import figures, place


def test_a_book_is_stocked_ordered_confirmed_and_shipped_with_a_mail_at_each_step(db, scenario, mailoutbox):
    alice = AccountFactory(username="alice", email="alice@example.com")

    # a book is added: its inventory is stocked once the command has committed
    scenario.when(
        AddBook(
            title="The Great Gatsby",
            author="F. Scott Fitzgerald",
            isbn=Isbn("978-0-7432-7356-5"),
            price=Money(Decimal("12.99")),
        )
    ).then_events(BookAdded).then_cascade(BookAdded, BookStocked).then_deliveries(done=1)
    gatsby = Book.objects.get(isbn="9780743273565")
    assert figures(gatsby) == (10, 0)

    # alice orders two copies: they are reserved, nothing has left the shop
    placed = scenario.when(place(alice, (gatsby, 2))).then_events(OrderPlaced, StockReserved)
    order_id = placed.events[0].order_id
    assert figures(gatsby) == (10, 2)
    assert order_view(order_id).total == Money(Decimal("25.98"))

    # the shop confirms: a mail to alice is queued, and a relay worker sends it
    scenario.when(ConfirmOrder(order_id=order_id)).then_events(OrderConfirmed).then_deliveries(done=1, pending=1)
    assert mailoutbox == []
    relay()
    assert len(mailoutbox) == 1
    assert figures(gatsby) == (10, 2)

    # the shop ships: a second mail, and the two copies are gone for good
    scenario.when(ShipOrder(order_id=order_id)).then_events(OrderShipped, StockShipped).then_deliveries(
        done=1, pending=1
    )
    relay()
    assert [mail.subject for mail in mailoutbox] == [
        f"Your order {str(order_id)[:8]} is confirmed",
        f"Your order {str(order_id)[:8]} is shipped",
    ]
    assert all(mail.to == ["alice@example.com"] for mail in mailoutbox)
    assert "2 x The Great Gatsby, 12.99 USD each" in mailoutbox[1].body
    assert order_view(order_id).status == "SHIPPED"
    assert figures(gatsby) == (8, 0)
