"""Consequences of orders events, run after the event's transaction commits.

The mail policies write the customer's mail and queue it in the kernel's
outbox; the relay sends it later, outside any transaction, so neither the
order's new status nor the request that set it waits for the mail server.
"""

from uuid import UUID

from accounts.queries import account_summary
from catalog.commands import ReleaseStock
from catalog.reservations import lock_stock_held_for
from messaging.outbox import QueueMail

from . import queries
from .events import OrderCancelled, OrderConfirmed, OrderExpired, OrderShipped


def release_stock_on_cancel(event: OrderCancelled):
    """A cancelled order's copies go back on sale."""
    return [ReleaseStock(order_id=event.order_id)]


def lock_released_stock(events: list[OrderCancelled | OrderExpired]) -> None:
    """The stock rows a relay batch of releases will write, locked in one
    order before any of them runs (``registry.subscribe(..., locks=)``)."""
    lock_stock_held_for([event.order_id for event in events])


def release_stock_on_expiry(event: OrderExpired):
    """An expired order's copies go back on sale."""
    return [ReleaseStock(order_id=event.order_id)]


def mail_expiry(event: OrderExpired):
    """Tell the customer why their order is gone."""
    return [_mail_customer(event.order_id, event.customer_id, "expired", event.reason)]


def mail_confirmation(event: OrderConfirmed):
    """Tell the customer their order is confirmed."""
    return [
        _mail_customer(event.order_id, event.customer_id, "confirmed", "We have confirmed your order; it ships soon.")
    ]


def mail_shipment(event: OrderShipped):
    """Tell the customer their order is on its way."""
    return [_mail_customer(event.order_id, event.customer_id, "shipped", "Your order is on its way.")]


def _mail_customer(order_id: UUID, customer_id: UUID, what: str, news: str) -> QueueMail:
    customer = account_summary(customer_id)
    if customer is None:
        raise LookupError(f"order {order_id}: its customer {customer_id} does not exist")
    order = queries.order(order_id)
    lines = [f"  {item.quantity} x {item.title}, {item.unit_price} each" for item in order.items]
    body = "\n".join(
        [f"Hello {customer.username},", "", news, "", *lines, f"Total: {order.total}", "", f"Order {order_id}"]
    )
    return QueueMail(to=customer.email, subject=f"Your order {str(order_id)[:8]} is {what}", body=body)
