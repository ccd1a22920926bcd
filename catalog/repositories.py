"""The only code that reads or writes catalog rows for the write side."""

from collections.abc import Iterable
from uuid import UUID

from django.db import IntegrityError
from django.utils import timezone

from messaging import sql

from .models import Book, Inventory, Reservation
from .values import Money


class DuplicateIsbn(Exception):
    """The ISBN is already in the catalog (possibly added by a concurrent command)."""


def isbn_taken(isbn: str) -> bool:
    return Book.objects.filter(isbn=isbn).exists()


def add_book(*, book_id: UUID, title: str, author: str, isbn: str | None, price: Money, description: str) -> None:
    """Insert a book with its empty inventory; ``DuplicateIsbn`` if the unique index objects."""
    try:
        Book.objects.create(
            id=book_id,
            title=title,
            author=author,
            isbn=isbn,
            price_amount=price.amount,
            price_currency=price.currency,
            description=description,
        )
    except IntegrityError as error:
        raise DuplicateIsbn(isbn) from error
    Inventory.objects.create(book_id=book_id)


def lock_book(book_id: UUID) -> Book | None:
    return sql.get(Book, book_id, lock=True)


def lock_inventory(book_id: UUID) -> Inventory | None:
    return sql.get(Inventory, book_id, lock=True)


def lock_inventories(book_ids: Iterable[UUID]) -> list[Inventory]:
    """The inventories of these books (with their book), locked in book-id order.

    Every command that changes several inventories locks them through here,
    so two of them never wait on each other's rows in opposite orders.
    """
    keys = list(book_ids)
    return list(sql.get_many(Inventory, keys, lock=True, related="book").values()) if keys else []


def save(row: Book | Inventory, *fields: str) -> None:
    sql.save(row, *fields)


def add_reservations(order_id: UUID, quantities: dict[UUID, int]) -> None:
    """The reservations of a new order, held, in one INSERT built once."""
    now = timezone.now()
    sql.insert(
        Reservation,
        [
            {
                "order_id": order_id,
                "book": book_id,
                "quantity": quantity,
                "status": Reservation.Status.HELD.value,
                "created_at": now,
            }
            for book_id, quantity in quantities.items()
        ],
    )


def lock_held_reservations(order_id: UUID) -> list[Reservation]:
    """What is still held for the order, locked, in book-id order: a second
    release or shipment of the same order waits, then finds nothing held."""
    return sql.find(Reservation, order_id=order_id, status=Reservation.Status.HELD, order_by="book_id", lock=True)


def settle(reservations: list[Reservation], status: Reservation.Status) -> None:
    """Mark held reservations released or shipped."""
    Reservation.objects.filter(pk__in=[row.pk for row in reservations]).update(status=status)
