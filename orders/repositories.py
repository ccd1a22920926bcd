"""The only code that reads or writes orders rows for the write side."""

from datetime import datetime
from uuid import UUID

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from catalog.values import Money
from messaging import sql

from .models import Order, OrderItem
from .values import OrderedItem


def add(
    *, order_id: UUID, customer_id: UUID, items: tuple[OrderedItem, ...], total: Money, at: datetime | None = None
) -> None:
    """A new order and its items, placed ``at`` (now by default)."""
    order = Order.objects.create(
        id=order_id,
        customer_id=customer_id,
        total_amount=total.amount,
        currency=total.currency,
        placed_at=at or timezone.now(),
    )
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            book_id=item.book_id,
            title=item.title,
            quantity=item.quantity,
            unit_price_amount=item.unit_price.amount,
        )
        for item in items
    )


def lock(order_id: UUID) -> Order | None:
    """The order, its row locked until the transaction ends: two changes to
    one order queue up, and the second sees the status the first left."""
    return sql.get(Order, order_id, lock=True)


def save(order: Order, *fields: str) -> None:
    sql.save(order, *fields)


# The first key of the customer's advisory lock: which lock space is ours.
_CUSTOMER_LOCK_SPACE = 0x6F726472  # "ordr"


def copies_held_by(customer_id: UUID) -> int:
    """The copies the customer's pending orders hold, the customer taken for
    the rest of the transaction first: two orders of one customer queue here,
    and the second counts the copies of the first (a row lock cannot do it:
    the order that would count does not exist yet). On PostgreSQL a
    transaction-scoped advisory lock on the customer's id; SQLite's
    ``IMMEDIATE`` transactions queue every writer already. Taken before any
    inventory row, and only by ``PlaceOrder``, so it waits on nothing that
    waits on it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # two int4 keys: our space, and the id's first 32 bits (signed); a clash only queues two customers
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%(space)s, %(customer)s)",
                {"space": _CUSTOMER_LOCK_SPACE, "customer": (customer_id.int >> 96) - (1 << 31)},
            )
    held = OrderItem.objects.filter(order__customer_id=customer_id, order__status=Order.Status.PENDING)
    return held.aggregate(copies=Sum("quantity"))["copies"] or 0
