"""Consistency rules between orders and the stock they hold."""

from collections.abc import Iterator

from catalog import queries as catalog

from .models import Order, OrderItem


def open_orders_hold_exactly_their_stock() -> Iterator[str]:
    """A pending or confirmed order holds its items' quantities; no other
    order holds any stock (once deliveries have settled)."""
    open_statuses = [Order.Status.PENDING, Order.Status.CONFIRMED]
    expected = {
        (order_id, book_id): quantity
        for order_id, book_id, quantity in OrderItem.objects.filter(order__status__in=open_statuses).values_list(
            "order_id", "book_id", "quantity"
        )
    }
    held = catalog.held_stock()
    for order_id, book_id in sorted(expected.keys() | held.keys()):
        wanted, holding = expected.get((order_id, book_id), 0), held.get((order_id, book_id), 0)
        if wanted != holding:
            yield f"order {order_id}, book {book_id}: should hold {wanted}, holds {holding}"
