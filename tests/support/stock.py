"""Reading stock figures and building orders in tests of catalog and orders."""

from catalog.models import Book
from catalog.queries import book as book_view
from orders.commands import PlaceOrder
from orders.values import OrderLine


def figures(book: Book) -> tuple[int, int]:
    """(on hand, reserved) of a book, as the catalog reports them now."""
    view = book_view(book.pk)
    return view.on_hand, view.reserved


def place(customer, *lines: tuple[Book, int]) -> PlaceOrder:
    """``place(alice, (gatsby, 2), (dune, 1))``: alice orders those copies."""
    return PlaceOrder(
        items=tuple(OrderLine(book_id=book.pk, quantity=quantity) for book, quantity in lines), actor_id=customer.pk
    )
