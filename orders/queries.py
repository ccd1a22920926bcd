"""Read side of the orders context."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import OuterRef, QuerySet

from accounts.queries import username_of
from catalog.values import Money
from messaging import sql
from messaging.features import access

from .events import OrderCancelled, OrderConfirmed, OrderExpired, OrderPlaced, OrderShipped
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
    row = sql.get(Order, order_id)
    return _view(row, sql.find(OrderItem, order_id=order_id)) if row else None


def as_placed(placed: OrderPlaced) -> OrderView:
    """The order as its ``OrderPlaced`` says it was placed, read from nothing:
    what the command that placed it answers (nothing moves a new order
    before that answer: no policy follows ``OrderPlaced``)."""
    return OrderView(
        order_id=placed.order_id,
        customer_id=placed.customer_id,
        status=Order.Status.PENDING,
        items=placed.items,
        total=placed.total,
        placed_at=placed.occurred_at,
    )


def orders(*, customer_id: UUID | None = None, status: str = "") -> QuerySet[Order]:
    """Orders with their items, newest first, of one customer or of all, in
    one ``status`` or any; ``order_view`` turns each row into what the read
    side shows."""
    rows = Order.objects.prefetch_related("items").order_by("-placed_at", "pk")
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    return rows.filter(status=status) if status else rows


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
    return orders(status=status).annotate(customer_username=username_of(OuterRef("customer_id")))


# What each event of an order's life says happened to it, for its dates.
_CHANGES = {
    OrderPlaced.type_name(): "placed",
    OrderConfirmed.type_name(): "confirmed",
    OrderShipped.type_name(): "shipped",
    OrderCancelled.type_name(): "cancelled",
    OrderExpired.type_name(): "expired",
}


def personal_orders(customer_id: UUID) -> list[dict]:
    """Every order of ``customer_id``, oldest first, with its items, total
    and the dates of its changes (from the event log: the order row keeps
    only when it was placed), for their export (``messaging.access``)."""
    dates = _dates_of_changes(customer_id)
    rows = (
        Order.objects.filter(customer_id=customer_id).order_by("placed_at", "pk").prefetch_related("items")
    ).iterator(chunk_size=500)
    return [_personal_order(order_view(row), dates.get(str(row.pk), [])) for row in rows]


def _dates_of_changes(customer_id: UUID) -> dict[str, list[dict]]:
    """``{order id: [{change, at}, ...]}`` of the customer's orders, oldest change first."""
    changes = (
        access.facts(list(_CHANGES), customer_id=str(customer_id))
        .values_list("type", "payload__order_id", "occurred_at")
        .iterator(chunk_size=2000)
    )
    dates: dict[str, list[dict]] = {}
    for event_type, order_id, at in changes:
        dates.setdefault(str(order_id), []).append({"change": _CHANGES[event_type], "at": at})
    return dates


def _personal_order(view: OrderView, changes: list[dict]) -> dict:
    return {
        "order_id": view.order_id,
        "status": view.status,
        "placed_at": view.placed_at,
        "changes": changes,
        "items": [
            {
                "book_id": item.book_id,
                "title": item.title,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "subtotal": item.subtotal,
            }
            for item in view.items
        ],
        "total": view.total,
    }
