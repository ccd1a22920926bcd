"""Stock held for orders: the catalog's public write functions.

The orders context calls ``hold`` and ``ship`` from its own handlers, so the
stock moves in the same transaction as the order; each returns the catalog
events that record the move, for the calling handler to return with its own.
``release`` runs in the catalog's ``ReleaseStock`` handler.

Inventory rows are always locked in book-id order (see
``repositories.lock_inventories``): concurrent orders for the same books
queue on those locks, and each sees the figures the previous one left.
"""

from collections.abc import Callable
from uuid import UUID

from messaging.messages import Event

from . import repositories as catalog
from .events import StockReleased, StockReserved, StockShipped
from .models import Inventory, Reservation
from .queries import PricedBook

# The error ``hold`` raises, which the orders context catches by this name.
from .rules import InsufficientStock as InsufficientStock


def lock(book_ids: list[UUID]) -> list[Inventory]:
    """The inventories of these books, locked in book-id order, each with
    its book: what an order holds (``hold``) and prices (``priced``) from,
    read in one statement."""
    return catalog.lock_inventories(book_ids)


def priced(inventories: list[Inventory]) -> dict[UUID, PricedBook]:
    """Title and current price of the books of these (locked) inventories, by id."""
    return {row.book_id: PricedBook(row.book_id, row.book.title, row.book.price) for row in inventories}


def hold(order_id: UUID, quantities: dict[UUID, int], *, locked: list[Inventory] | None = None) -> list[StockReserved]:
    """Hold ``quantities`` (book id -> copies, every book known) for the order:
    all of them, or none and ``InsufficientStock`` for the first book short
    (in book-id order). Each inventory checks its own ``available``; nothing
    is saved before every one of them agreed. ``locked``: these books'
    inventories as ``lock`` read them in this transaction, not read again."""
    inventories = catalog.lock_inventories(quantities) if locked is None else locked
    reserved = [inventory.hold(order_id, quantities[inventory.book_id]) for inventory in inventories]
    for inventory in inventories:
        catalog.save(inventory, "reserved")
    catalog.add_reservations(order_id, quantities)
    return reserved


def ship(order_id: UUID) -> list[StockShipped]:
    """What is held for the order leaves the shop: on hand and reserved fall."""
    return _settle(order_id, Reservation.Status.SHIPPED, Inventory.ship)


def release(order_id: UUID) -> list[StockReleased]:
    """What is still held for the order becomes available again; nothing if
    it was released (or shipped) already."""
    return _settle(order_id, Reservation.Status.RELEASED, Inventory.release)


def lock_stock_held_for(order_ids: list[UUID]) -> None:
    """Lock the inventories of every book still held for these orders, in
    book-id order, before a relay batch releases them (so batched workers
    releasing orders that share books queue instead of deadlocking)."""
    books = Reservation.objects.filter(order_id__in=order_ids, status=Reservation.Status.HELD).values_list("book_id")
    catalog.lock_inventories({book_id for (book_id,) in books})


def _settle(order_id: UUID, status: Reservation.Status, move: Callable[[Inventory, UUID, int], Event]) -> list[Event]:
    held = catalog.lock_held_reservations(order_id)
    quantities = {row.book_id: row.quantity for row in held}
    moved = []
    for inventory in catalog.lock_inventories(quantities):
        moved.append(move(inventory, order_id, quantities[inventory.book_id]))
        catalog.save(inventory, "on_hand", "reserved")
    catalog.settle(held, status)
    return moved
