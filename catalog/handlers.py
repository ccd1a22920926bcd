"""Command handlers of the catalog context.

Each reads as: validate the command, fetch state through the repositories,
let the aggregate decide (a ``Book`` or an ``Inventory`` returns its event
or refuses), save. A refusal
is raised as ``Refused``; the bus rolls back and records it.
"""

import uuid

from messaging.messages import Event, Rejection

from . import repositories as catalog
from . import reservations
from .commands import AddBook, ChangeBookPrice, ReleaseStock, RestockBook, StockNewBook
from .events import BookAdded, BookRejected, CatalogCommandRejected
from .models import Inventory
from .refusals import CatalogRefusal
from .values import MAX_AUTHOR, MAX_DESCRIPTION, MAX_PRICE, MAX_RESTOCK, MAX_TITLE, Money


def _require_text(value: str, name: str, max_length: int) -> str:
    text = value.strip()
    if not text or len(text) > max_length:
        raise BookRejected.refuse(CatalogRefusal.INVALID_BOOK, f"A book's {name} is 1 to {max_length} characters.")
    return text


def _require_price(price: Money, rejection: type[Rejection]) -> None:
    if price.amount > MAX_PRICE:
        raise rejection.refuse(CatalogRefusal.INVALID_PRICE, f"A price is at most {MAX_PRICE} {price.currency}.")


def _require_inventory(book_id: uuid.UUID) -> Inventory:
    inventory = catalog.lock_inventory(book_id)
    if inventory is None:
        raise CatalogCommandRejected.refuse(CatalogRefusal.BOOK_NOT_FOUND)
    return inventory


def add_book(command: AddBook) -> list[Event]:
    title = _require_text(command.title, "title", MAX_TITLE)
    author = _require_text(command.author, "author", MAX_AUTHOR)
    if len(command.description) > MAX_DESCRIPTION:
        raise BookRejected.refuse(
            CatalogRefusal.INVALID_BOOK, f"A description is at most {MAX_DESCRIPTION} characters."
        )
    _require_price(command.price, BookRejected)
    isbn = str(command.isbn) if command.isbn else None
    duplicate = BookRejected.refuse(
        CatalogRefusal.DUPLICATE_ISBN, f"A book with ISBN {isbn} is already in the catalog."
    )
    if isbn and catalog.isbn_taken(isbn):
        raise duplicate

    book_id = uuid.uuid4()
    try:
        catalog.add_book(
            book_id=book_id,
            title=title,
            author=author,
            isbn=isbn,
            price=command.price,
            description=command.description.strip(),
        )
    except catalog.DuplicateIsbn:  # a concurrent AddBook won the race
        raise duplicate from None
    return [BookAdded(book_id=book_id, title=title, author=author, isbn=command.isbn, price=command.price)]


def stock_new_book(command: StockNewBook) -> list[Event]:
    if not 0 <= command.quantity <= Inventory.MAX_ON_HAND:
        raise CatalogCommandRejected.refuse(
            CatalogRefusal.INVALID_QUANTITY, f"Initial stock is 0 to {Inventory.MAX_ON_HAND} copies."
        )
    inventory = _require_inventory(command.book_id)
    stocked = inventory.stock_initially(command.quantity)
    if stocked is None:
        return []
    catalog.save(inventory, "on_hand", "initial_stock_received")
    return [stocked]


def restock_book(command: RestockBook) -> list[Event]:
    if not 1 <= command.quantity <= MAX_RESTOCK:
        raise CatalogCommandRejected.refuse(
            CatalogRefusal.INVALID_QUANTITY, f"Restock 1 to {MAX_RESTOCK} copies at a time."
        )
    inventory = _require_inventory(command.book_id)
    restocked = inventory.restock(command.quantity)
    catalog.save(inventory, "on_hand")
    return [restocked]


def change_book_price(command: ChangeBookPrice) -> list[Event]:
    _require_price(command.price, CatalogCommandRejected)
    book = catalog.lock_book(command.book_id)
    if book is None:
        raise CatalogCommandRejected.refuse(CatalogRefusal.BOOK_NOT_FOUND)
    changed = book.change_price(command.price)
    if changed is None:
        return []
    catalog.save(book, "price_amount", "price_currency")
    return [changed]


def release_stock(command: ReleaseStock) -> list[Event]:
    return reservations.release(command.order_id)
