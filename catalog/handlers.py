"""Command handlers of the catalog context.

Each reads as: validate the command and fetch state through the
repositories, let the rules decide (``rules``, or a ``Book`` or an
``Inventory`` moving as ``rules`` say), save. A refusal is raised as
``Refused``; the bus rolls back and records it.
"""

import uuid

from messaging.messages import Event

from . import repositories as catalog
from . import reservations, rules
from .commands import AddBook, ChangeBookPrice, ReleaseStock, RestockBook, StockNewBook
from .events import CatalogCommandRejected


def add_book(command: AddBook) -> list[Event]:
    added = rules.add_book(
        command,
        book_id=uuid.uuid4(),
        isbn_taken=bool(command.isbn) and catalog.isbn_taken(str(command.isbn)),
    )
    try:
        catalog.add_book(
            book_id=added.book_id,
            title=added.title,
            author=added.author,
            isbn=str(added.isbn) if added.isbn else None,
            price=added.price,
            description=command.description.strip(),
        )
    except catalog.DuplicateIsbn:  # a concurrent AddBook won the race
        raise rules.duplicate_isbn(added.isbn) from None
    return [added]


def stock_new_book(command: StockNewBook) -> list[Event]:
    rules.check_initial_stock(command.quantity)
    inventory = rules.require_found(catalog.lock_inventory(command.book_id))
    stocked = inventory.stock_initially(command.quantity)
    if stocked is None:
        return []
    catalog.save(inventory, "on_hand", "initial_stock_received")
    return [stocked]


def restock_book(command: RestockBook) -> list[Event]:
    rules.check_restock(command.quantity)
    inventory = rules.require_found(catalog.lock_inventory(command.book_id))
    restocked = inventory.restock(command.quantity)
    catalog.save(inventory, "on_hand")
    return [restocked]


def change_book_price(command: ChangeBookPrice) -> list[Event]:
    rules.check_price(command.price, CatalogCommandRejected)
    book = rules.require_found(catalog.lock_book(command.book_id))
    changed = book.change_price(command.price)
    if changed is None:
        return []
    catalog.save(book, "price_amount", "price_currency")
    return [changed]


def release_stock(command: ReleaseStock) -> list[Event]:
    return reservations.release(command.order_id)
