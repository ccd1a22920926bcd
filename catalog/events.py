"""Facts of the catalog context: the context's public contract."""

from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Event, Rejection

from .values import Isbn, Money


@dataclass(frozen=True, kw_only=True)
class BookAdded(Event):
    book_id: UUID
    title: str
    author: str
    isbn: Isbn | None
    price: Money


@dataclass(frozen=True, kw_only=True)
class BookStocked(Event):
    """A new book received its initial stock."""

    book_id: UUID
    quantity: int
    on_hand: int


@dataclass(frozen=True, kw_only=True)
class BookRestocked(Event):
    book_id: UUID
    quantity: int
    on_hand: int


@dataclass(frozen=True, kw_only=True)
class BookPriceChanged(Event):
    book_id: UUID
    previous_price: Money
    price: Money


@dataclass(frozen=True, kw_only=True)
class StockReserved(Event):
    """Copies were promised to an order (in the order's own transaction)."""

    book_id: UUID
    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockShipped(Event):
    """Promised copies left with their order: on hand and reserved both fell."""

    book_id: UUID
    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockReleased(Event):
    """Copies promised to a cancelled order are available again."""

    book_id: UUID
    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class BookRejected(Rejection):
    """``AddBook`` refused."""


@dataclass(frozen=True, kw_only=True)
class CatalogCommandRejected(Rejection):
    """Any other catalog command refused (restock, price change...)."""
