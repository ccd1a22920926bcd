"""The only code that reads or writes orders rows for the write side."""

from uuid import UUID

from catalog.values import Money
from messaging import sql

from .models import Order, OrderItem
from .values import OrderedItem


def add(*, order_id: UUID, customer_id: UUID, items: tuple[OrderedItem, ...], total: Money) -> None:
    order = Order.objects.create(
        id=order_id, customer_id=customer_id, total_amount=total.amount, currency=total.currency
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
