"""The rules of the catalog: what a book may be, and how its stock may move.

Pure functions of what a handler fetched (or of a row's own figures, for
its moves): each returns the event it decided on, ``None`` when there is
nothing to do, or raises the rejection. None touches the database.
"""

from uuid import UUID

from messaging.messages import Refused, Rejection

from .commands import AddBook
from .events import (
    BookAdded,
    BookPriceChanged,
    BookRejected,
    BookRestocked,
    BookStocked,
    CatalogCommandRejected,
    StockReserved,
)
from .refusals import CatalogRefusal
from .values import MAX_AUTHOR, MAX_DESCRIPTION, MAX_ON_HAND, MAX_PRICE, MAX_RESTOCK, MAX_TITLE, Isbn, Money


class InsufficientStock(Exception):
    """Fewer copies are available than an order asks for; nothing was held."""

    def __init__(self, *, book_id: UUID, title: str, requested: int, available: int):
        super().__init__(f"{title}: {requested} requested, {available} available")
        self.book_id, self.title, self.requested, self.available = book_id, title, requested, available


# --- Books --------------------------------------------------------------------


def add_book(command: AddBook, *, book_id: UUID, isbn_taken: bool) -> BookAdded:
    """The new book, its title and author trimmed, if they and its description
    are of a reasonable length, its price within ``MAX_PRICE`` and its ISBN
    not ``isbn_taken``. (A concurrent ``AddBook`` can still take the ISBN
    first: the unique index has the last word.)"""
    title = _text(command.title, "title", MAX_TITLE)
    author = _text(command.author, "author", MAX_AUTHOR)
    if len(command.description) > MAX_DESCRIPTION:
        raise BookRejected.refuse(
            CatalogRefusal.INVALID_BOOK, f"A description is at most {MAX_DESCRIPTION} characters."
        )
    check_price(command.price, BookRejected)
    if command.isbn and isbn_taken:
        raise duplicate_isbn(command.isbn)
    return BookAdded(book_id=book_id, title=title, author=author, isbn=command.isbn, price=command.price)


def duplicate_isbn(isbn: Isbn) -> Refused:
    """The refusal of a book whose ISBN is in the catalog already."""
    return BookRejected.refuse(CatalogRefusal.DUPLICATE_ISBN, f"A book with ISBN {isbn} is already in the catalog.")


def check_price(price: Money, rejection: type[Rejection]) -> None:
    """A price is at most ``MAX_PRICE``, in any currency."""
    if price.amount > MAX_PRICE:
        raise rejection.refuse(CatalogRefusal.INVALID_PRICE, f"A price is at most {MAX_PRICE} {price.currency}.")


def price_changed(book_id: UUID, *, previous: Money, price: Money) -> BookPriceChanged | None:
    """The book sells at ``price`` from now on; ``None`` if that is its price already."""
    if previous == price:
        return None
    return BookPriceChanged(book_id=book_id, previous_price=previous, price=price)


def require_found[Row](row: Row | None) -> Row:
    """The book (or its inventory) a command names, which must exist."""
    if row is None:
        raise CatalogCommandRejected.refuse(CatalogRefusal.BOOK_NOT_FOUND)
    return row


# --- Stock --------------------------------------------------------------------


def check_initial_stock(quantity: int) -> None:
    """A new book receives 0 to ``MAX_ON_HAND`` copies."""
    if not 0 <= quantity <= MAX_ON_HAND:
        raise CatalogCommandRejected.refuse(
            CatalogRefusal.INVALID_QUANTITY, f"Initial stock is 0 to {MAX_ON_HAND} copies."
        )


def check_restock(quantity: int) -> None:
    """A restock adds 1 to ``MAX_RESTOCK`` copies."""
    if not 1 <= quantity <= MAX_RESTOCK:
        raise CatalogCommandRejected.refuse(
            CatalogRefusal.INVALID_QUANTITY, f"Restock 1 to {MAX_RESTOCK} copies at a time."
        )


def stocked(book_id: UUID, *, on_hand: int, received: bool, quantity: int) -> BookStocked | None:
    """A new book's first ``quantity`` copies, received once: ``None`` when
    they were ``received`` already."""
    if received:
        return None
    return BookStocked(book_id=book_id, quantity=quantity, on_hand=_added(on_hand, quantity))


def restocked(book_id: UUID, *, on_hand: int, quantity: int) -> BookRestocked:
    """``quantity`` more copies on hand."""
    return BookRestocked(book_id=book_id, quantity=quantity, on_hand=_added(on_hand, quantity))


def reserved(book_id: UUID, order_id: UUID, *, title: str, available: int, quantity: int) -> StockReserved:
    """Copies promised to an order, if that many are ``available``; otherwise
    ``InsufficientStock``."""
    if quantity > available:
        raise InsufficientStock(book_id=book_id, title=title, requested=quantity, available=available)
    return StockReserved(book_id=book_id, order_id=order_id, quantity=quantity)


def _added(on_hand: int, quantity: int) -> int:
    """What is on hand after ``quantity`` more copies: at most ``MAX_ON_HAND``."""
    if on_hand + quantity > MAX_ON_HAND:
        raise CatalogCommandRejected.refuse(
            CatalogRefusal.INVALID_QUANTITY, f"A book's stock is at most {MAX_ON_HAND}; it has {on_hand} on hand."
        )
    return on_hand + quantity


def _text(value: str, name: str, max_length: int) -> str:
    text = value.strip()
    if not text or len(text) > max_length:
        raise BookRejected.refuse(CatalogRefusal.INVALID_BOOK, f"A book's {name} is 1 to {max_length} characters.")
    return text
