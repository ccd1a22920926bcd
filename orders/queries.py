"""Read side of the orders context."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import OuterRef, QuerySet

from accounts.queries import username_of
from catalog.values import Money
from messaging import rows

from .models import Order, OrderItem
from .values import OrderedItem


@dataclass(frozen=True)
class OrderView:
    order_id: UUID
    customer_id: UUID
    status: str
    items: tuple[OrderedItem, ...]
    total: Money
    placed_at: datetime


def order(order_id: UUID) -> OrderView | None:
    """One order with its items, or ``None``: two statements built once
    (every mail about an order reads it)."""
    row = rows.get(Order, order_id)
    return _view(row, rows.find(OrderItem, order_id=order_id)) if row else None


def orders(*, customer_id: UUID | None = None) -> QuerySet[Order]:
    """Orders with their items, newest first, of one customer or of all;
    ``order_view`` turns each row into what the read side shows."""
    rows = Order.objects.prefetch_related("items").order_by("-placed_at", "pk")
    return rows if customer_id is None else rows.filter(customer_id=customer_id)


def order_view(row: Order) -> OrderView:
    """What the read side shows of an order row read with its items (``orders()``)."""
    return _view(row, row.items.all())


def _view(row: Order, items) -> OrderView:
    return OrderView(
        order_id=row.pk,
        customer_id=row.customer_id,
        status=row.status,
        items=tuple(
            OrderedItem(
                book_id=item.book_id,
                title=item.title,
                quantity=item.quantity,
                unit_price=Money(item.unit_price_amount, row.currency),
            )
            for item in items
        ),
        total=row.total,
        placed_at=row.placed_at,
    )


def orders_for_staff(status: str = "") -> QuerySet[Order]:
    """``orders()`` of every customer (or those with ``status``), each with
    its ``customer_username``; two queries a page."""
    rows = orders().annotate(customer_username=username_of(OuterRef("customer_id")))
    return rows.filter(status=status) if status else rows
