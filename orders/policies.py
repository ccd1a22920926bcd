"""Consequences of orders events, run after the event's transaction commits.

The mail policies queue the customer's mail in the kernel's outbox by ids
alone, reading nothing: it is written and addressed when a relay sends it
(``orders.mails``), outside any transaction, so neither the order's new
status nor the request that set it waits for the mail server, and no
address or name is stored with it.
"""

from catalog.commands import ReleaseStock
from catalog.reservations import lock_stock_held_for
from messaging.features.outbox import QueueMail

from .events import OrderCancelled, OrderConfirmed, OrderExpired, OrderShipped
from .mails import CONFIRMED_MAIL, EXPIRED_MAIL, SHIPPED_MAIL


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
    return [
        QueueMail(
            recipient_id=event.customer_id,
            renderer=EXPIRED_MAIL,
            about=event.order_id,
            params={"reason": event.reason},
        )
    ]


def mail_confirmation(event: OrderConfirmed):
    """Tell the customer their order is confirmed."""
    return [QueueMail(recipient_id=event.customer_id, renderer=CONFIRMED_MAIL, about=event.order_id)]


def mail_shipment(event: OrderShipped):
    """Tell the customer their order is on its way."""
    return [QueueMail(recipient_id=event.customer_id, renderer=SHIPPED_MAIL, about=event.order_id)]
