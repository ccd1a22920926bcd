"""Consequences of orders events, run after the event's transaction commits.

The mail policies do their one outside-world job and return nothing. If the
mail cannot be sent they raise: the order's new status stands, and the
delivery is retried and in the end dead-lettered by the kernel.
"""

from uuid import UUID

from django.core.mail import send_mail

from accounts.queries import account_summary
from catalog.commands import ReleaseStock

from . import queries
from .events import OrderCancelled, OrderConfirmed, OrderShipped


def release_stock_on_cancel(event: OrderCancelled):
    """A cancelled order's copies go back on sale."""
    return [ReleaseStock(order_id=event.order_id)]


def mail_confirmation(event: OrderConfirmed) -> None:
    """Tell the customer their order is confirmed."""
    _mail_customer(event.order_id, event.customer_id, "confirmed", "We have confirmed your order; it ships soon.")


def mail_shipment(event: OrderShipped) -> None:
    """Tell the customer their order is on its way."""
    _mail_customer(event.order_id, event.customer_id, "shipped", "Your order is on its way.")


def _mail_customer(order_id: UUID, customer_id: UUID, what: str, news: str) -> None:
    customer = account_summary(customer_id)
    if customer is None:
        raise LookupError(f"order {order_id}: its customer {customer_id} does not exist")
    order = queries.order(order_id)
    lines = [f"  {item.quantity} x {item.title}, {item.unit_price} each" for item in order.items]
    body = "\n".join(
        [f"Hello {customer.username},", "", news, "", *lines, f"Total: {order.total}", "", f"Order {order_id}"]
    )
    # Django 6.1 sends through MAILERS["default"] and raises on failure by default.
    send_mail(f"Your order {str(order_id)[:8]} is {what}", body, None, [customer.email])
