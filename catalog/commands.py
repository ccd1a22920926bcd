"""What can be asked of the catalog context."""

from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Command, PolicyCommand

from .values import Isbn, Money


@dataclass(frozen=True, kw_only=True)
class AddBook(Command):
    """Put a book in the catalog; its stock follows (policy on ``BookAdded``).

    On the shell: ``price=12.50`` (US dollars) or ``price="12.50 EUR"``; the
    ISBN with or without hyphens. Later commands may name the book
    ``book_id=isbn:9780743273565``.
    """

    title: str
    author: str
    price: Money
    isbn: Isbn | None = None
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class RestockBook(Command):
    book_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ChangeBookPrice(Command):
    """Orders already placed keep the price they were placed at."""

    book_id: UUID
    price: Money


@dataclass(frozen=True, kw_only=True)
class StockNewBook(PolicyCommand):
    """Give a new book its initial stock (issued by a policy on ``BookAdded``).
    Only the first one for a book counts; a repeat changes nothing."""

    book_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReleaseStock(PolicyCommand):
    """Put back whatever is still held for an order (issued by the orders
    context's policy on ``OrderCancelled``). A repeat changes nothing.
    Released by hand, an open order would later ship copies it no longer
    holds: stock is released by cancelling its order."""

    order_id: UUID
