"""The customer's mails about an order, written when they are sent
(renderers of ``messaging.features.outbox``): the customer's name and address, and
the order's lines, as they are at that moment. The queued mail holds only
the ids (and an expiry's reason, sealed for the customer)."""

from uuid import UUID

from accounts.queries import account_summary
from messaging.features.outbox import Mail

from . import queries

CONFIRMED_MAIL = "orders.confirmed"
SHIPPED_MAIL = "orders.shipped"
EXPIRED_MAIL = "orders.expired"  # params: {"reason": ...}, the event's words to the customer


def confirmed(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """The customer's order (``about``) is confirmed."""
    return _order_mail(recipient_id, about, "confirmed", "We have confirmed your order; it ships soon.")


def shipped(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """The customer's order (``about``) is on its way."""
    return _order_mail(recipient_id, about, "shipped", "Your order is on its way.")


def expired(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """The customer's order (``about``) lapsed, and why (``params["reason"]``)."""
    return _order_mail(recipient_id, about, "expired", params.get("reason", "It expired."))


def _order_mail(recipient_id: UUID, order_id: UUID | None, what: str, news: str) -> Mail | None:
    """ "Hello <username>," with the news, the order's lines, its total and
    its id; ``None`` when the customer or the order is not there to write
    about, or the order is not the recipient's (no one reads another's)."""
    customer = account_summary(recipient_id)
    order = queries.order(order_id) if order_id is not None else None
    if customer is None or order is None or order.customer_id != recipient_id:
        return None
    lines = [f"  {item.quantity} x {item.title}, {item.unit_price} each" for item in order.items]
    body = "\n".join(
        [f"Hello {customer.username},", "", news, "", *lines, f"Total: {order.total}", "", f"Order {order_id}"]
    )
    return Mail(to=customer.email, subject=f"Your order {str(order_id)[:8]} is {what}", body=body)
