"""Read side of the orders context."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import OuterRef, QuerySet

from accounts.queries import username_of
from catalog.values import Money

from .models import Order
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
    """One order with its items, or ``None``."""
    row = Order.objects.prefetch_related("items").filter(pk=order_id).first()
    if row is None:
        return None
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
            for item in row.items.all()
        ),
        total=row.total,
        placed_at=row.placed_at,
    )


def orders_of(customer_id: UUID) -> QuerySet[Order]:
    """A customer's orders, newest first, with their items (two queries a page)."""
    return Order.objects.filter(customer_id=customer_id).prefetch_related("items").order_by("-placed_at", "pk")


def all_orders(status: str = "") -> QuerySet[Order]:
    """Every order (or those with ``status``), newest first, with their items
    and ``customer_username`` (two queries a page)."""
    rows = Order.objects.annotate(customer_username=username_of(OuterRef("customer_id")))
    if status:
        rows = rows.filter(status=status)
    return rows.prefetch_related("items").order_by("-placed_at", "pk")
