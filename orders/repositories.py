"""The only code that reads or writes orders rows for the write side."""

from datetime import datetime
from uuid import UUID

from django.db import connection
from django.utils import timezone

from catalog.values import Money
from messaging import sql

from .models import HeldCopies, Order, OrderItem
from .values import OrderedItem


def add(
    *, order_id: UUID, customer_id: UUID, items: tuple[OrderedItem, ...], total: Money, at: datetime | None = None
) -> None:
    """A new order and its items, placed ``at`` (now by default): on
    PostgreSQL in one statement (``messaging.sql.insert``)."""
    order = {
        "id": order_id,
        "customer_id": customer_id,
        "status": Order.Status.PENDING.value,
        "total_amount": total.amount,
        "currency": total.currency,
        "placed_at": at or timezone.now(),
    }
    sql.insert(
        OrderItem,
        [
            {
                "order": order_id,
                "book_id": item.book_id,
                "title": item.title,
                "quantity": item.quantity,
                "unit_price_amount": item.unit_price.amount,
            }
            for item in items
        ],
        written_first=(Order, [order]),
    )


def lock(order_id: UUID) -> Order | None:
    """The order, its row locked until the transaction ends: two changes to
    one order queue up, and the second sees the status the first left."""
    return sql.get(Order, order_id, lock=True)


def save(order: Order, *fields: str) -> None:
    sql.save(order, *fields)


def hold_copies(customer_id: UUID, copies: int) -> int:
    """Add ``copies`` to what the customer's pending orders hold and return
    what they held before, the customer's row (``HeldCopies``, made on
    their first order) locked until the transaction ends: two orders of one
    customer queue here, and the second counts the copies of the first. One
    statement, an upsert that locks the row it moves; a refusal after it
    rolls the copies back with the rest. Taken before any inventory row, and
    only by ``PlaceOrder``, so it waits on nothing that waits on it."""
    table = connection.ops.quote_name(HeldCopies._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, copies) VALUES (%s, %s) "
            f"ON CONFLICT (customer_id) DO UPDATE SET copies = {table}.copies + excluded.copies RETURNING copies",
            [HeldCopies._meta.pk.get_db_prep_value(customer_id, connection), copies],
        )
        (held,) = cursor.fetchone()
    return held - copies


def release_copies(order: Order) -> None:
    """The copies of an order that stops pending (confirmed, cancelled,
    expired) no longer count against its customer's cap."""
    table = connection.ops.quote_name(HeldCopies._meta.db_table)
    items = connection.ops.quote_name(OrderItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET copies = copies - "
            f"(SELECT COALESCE(SUM(quantity), 0) FROM {items} WHERE order_id = %s) WHERE customer_id = %s",
            [
                Order._meta.pk.get_db_prep_value(order.pk, connection),
                HeldCopies._meta.pk.get_db_prep_value(order.customer_id, connection),
            ],
        )
