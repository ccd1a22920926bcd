"""Command handlers of the catalog context.

Each reads as the four steps: validate the command, fetch state through
the repositories, derive the events from the rules, update state. A refusal
is raised as ``Refused``; the bus rolls back and records it.
"""

import uuid
from decimal import Decimal

from messaging.messages import Event, Rejection

from . import repositories as catalog
from . import reservations
from .commands import AddBook, ChangeBookPrice, ReleaseStock, RestockBook, StockNewBook
from .events import BookAdded, BookPriceChanged, BookRejected, BookRestocked, BookStocked, CatalogCommandRejected
from .models import Inventory
from .values import Money

MAX_PRICE = Decimal("100000.00")
MAX_RESTOCK = 10_000
MAX_DESCRIPTION = 10_000


def _require_text(value: str, name: str, max_length: int) -> str:
    text = value.strip()
    if not text or len(text) > max_length:
        raise BookRejected.refuse("invalid_book", f"A book's {name} is 1 to {max_length} characters.")
    return text


def _require_price(price: Money, rejection: type[Rejection]) -> None:
    if price.amount > MAX_PRICE:
        raise rejection.refuse("invalid_price", f"A price is at most {MAX_PRICE} {price.currency}.")


def _require_inventory(book_id: uuid.UUID) -> Inventory:
    inventory = catalog.lock_inventory(book_id)
    if inventory is None:
        raise CatalogCommandRejected.refuse("book_not_found", "No such book.")
    return inventory


def _require_room(inventory: Inventory, quantity: int) -> None:
    if inventory.on_hand + quantity > Inventory.MAX_ON_HAND:
        raise CatalogCommandRejected.refuse(
            "invalid_quantity",
            f"A book's stock is at most {Inventory.MAX_ON_HAND}; it has {inventory.on_hand} on hand.",
        )


def add_book(command: AddBook) -> list[Event]:
    title = _require_text(command.title, "title", 200)
    author = _require_text(command.author, "author", 150)
    if len(command.description) > MAX_DESCRIPTION:
        raise BookRejected.refuse("invalid_book", f"A description is at most {MAX_DESCRIPTION} characters.")
    _require_price(command.price, BookRejected)
    isbn = str(command.isbn) if command.isbn else None
    duplicate = BookRejected.refuse("duplicate_isbn", f"A book with ISBN {isbn} is already in the catalog.")
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
            "invalid_quantity", f"Initial stock is 0 to {Inventory.MAX_ON_HAND} copies."
        )
    inventory = _require_inventory(command.book_id)
    if inventory.initial_stock_received:
        return []
    _require_room(inventory, command.quantity)

    inventory.restock(command.quantity)
    inventory.initial_stock_received = True
    catalog.save(inventory, "on_hand", "initial_stock_received")
    return [BookStocked(book_id=command.book_id, quantity=command.quantity, on_hand=inventory.on_hand)]


def restock_book(command: RestockBook) -> list[Event]:
    if not 1 <= command.quantity <= MAX_RESTOCK:
        raise CatalogCommandRejected.refuse("invalid_quantity", f"Restock 1 to {MAX_RESTOCK} copies at a time.")
    inventory = _require_inventory(command.book_id)
    _require_room(inventory, command.quantity)

    inventory.restock(command.quantity)
    catalog.save(inventory, "on_hand")
    return [BookRestocked(book_id=command.book_id, quantity=command.quantity, on_hand=inventory.on_hand)]


def change_book_price(command: ChangeBookPrice) -> list[Event]:
    _require_price(command.price, CatalogCommandRejected)
    book = catalog.lock_book(command.book_id)
    if book is None:
        raise CatalogCommandRejected.refuse("book_not_found", "No such book.")
    previous = book.price
    if previous == command.price:
        return []

    book.price_amount, book.price_currency = command.price.amount, command.price.currency
    catalog.save(book, "price_amount", "price_currency")
    return [BookPriceChanged(book_id=book.pk, previous_price=previous, price=command.price)]


def release_stock(command: ReleaseStock) -> list[Event]:
    return reservations.release(command.order_id)
