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

from . import repositories as catalog
from .events import StockReleased, StockReserved, StockShipped
from .models import Inventory, Reservation


class InsufficientStock(Exception):
    """Fewer copies are available than an order asks for; nothing was held."""

    def __init__(self, *, book_id: UUID, title: str, requested: int, available: int):
        super().__init__(f"{title}: {requested} requested, {available} available")
        self.book_id, self.title, self.requested, self.available = book_id, title, requested, available


def hold(order_id: UUID, quantities: dict[UUID, int]) -> list[StockReserved]:
    """Hold ``quantities`` (book id -> copies, every book known) for the order:
    all of them, or none and ``InsufficientStock`` for the first book short."""
    inventories = catalog.lock_inventories(quantities)
    for inventory in inventories:
        if inventory.available < quantities[inventory.book_id]:
            raise InsufficientStock(
                book_id=inventory.book_id,
                title=inventory.book.title,
                requested=quantities[inventory.book_id],
                available=inventory.available,
            )
    for inventory in inventories:
        inventory.hold(quantities[inventory.book_id])
        catalog.save(inventory, "reserved")
    catalog.add_reservations(order_id, quantities)
    return [
        StockReserved(book_id=inventory.book_id, order_id=order_id, quantity=quantities[inventory.book_id])
        for inventory in inventories
    ]


def ship(order_id: UUID) -> list[StockShipped]:
    """What is held for the order leaves the shop: on hand and reserved fall."""
    shipped = _settle(order_id, Reservation.Status.SHIPPED, Inventory.ship)
    return [StockShipped(book_id=row.book_id, order_id=order_id, quantity=row.quantity) for row in shipped]


def release(order_id: UUID) -> list[StockReleased]:
    """What is still held for the order becomes available again; nothing if
    it was released (or shipped) already."""
    released = _settle(order_id, Reservation.Status.RELEASED, Inventory.release)
    return [StockReleased(book_id=row.book_id, order_id=order_id, quantity=row.quantity) for row in released]


def _settle(order_id: UUID, status: Reservation.Status, move: Callable[[Inventory, int], None]) -> list[Reservation]:
    held = catalog.lock_held_reservations(order_id)
    quantities = {row.book_id: row.quantity for row in held}
    for inventory in catalog.lock_inventories(quantities):
        move(inventory, quantities[inventory.book_id])
        catalog.save(inventory, "on_hand", "reserved")
    catalog.settle(held, status)
    return held
