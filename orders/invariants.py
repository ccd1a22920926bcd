"""Consistency rules between orders and the stock they hold."""

from collections.abc import Iterator

from django.db.models import Sum

from catalog import queries as catalog

from .models import HeldCopies, Order, OrderItem


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


def each_customer_holds_what_their_pending_orders_hold() -> Iterator[str]:
    """The cap's counter (``HeldCopies``) of each customer is the copies of
    their pending orders."""
    expected = dict(
        OrderItem.objects.filter(order__status=Order.Status.PENDING)
        .values("order__customer_id")
        .annotate(copies=Sum("quantity"))
        .values_list("order__customer_id", "copies")
    )
    counted = dict(HeldCopies.objects.values_list("customer_id", "copies"))
    for customer_id in sorted(expected.keys() | counted.keys()):
        wanted, holding = expected.get(customer_id, 0), counted.get(customer_id, 0)
        if wanted != holding:
            yield f"customer {customer_id}: pending orders hold {wanted} copies, the cap counts {holding}"
