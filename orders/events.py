"""Facts of the orders context: the context's public contract."""

from dataclasses import dataclass
from uuid import UUID

from catalog.values import Money
from messaging.messages import Event, Rejection

from .values import OrderedItem


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(Event):
    order_id: UUID
    customer_id: UUID
    items: tuple[OrderedItem, ...]
    total: Money


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(Event):
    order_id: UUID
    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderShipped(Event):
    order_id: UUID
    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(Event):
    order_id: UUID
    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderExpired(Event):
    """A pending order lapsed, unconfirmed; ``reason`` is told to the customer."""

    order_id: UUID
    customer_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class OrderRejected(Rejection):
    """``PlaceOrder`` refused."""


@dataclass(frozen=True, kw_only=True)
class OrderChangeRejected(Rejection):
    """Confirming, shipping or cancelling an order refused."""
