"""Command handlers of the orders context.

Each reads as the four steps: validate the command, fetch state through
the repositories (and the catalog's and accounts' public functions), derive
the events from the rules, update state. A refusal is raised as
``Refused``; the bus rolls back everything the handler wrote, stock held in
the catalog included.
"""

import uuid

from accounts.queries import AccountSummary, account_summary
from catalog import queries as catalog
from catalog import reservations
from messaging.messages import Event

from . import repositories as orders
from .commands import CancelOrder, ConfirmOrder, PlaceOrder, ShipOrder
from .events import OrderCancelled, OrderChangeRejected, OrderConfirmed, OrderPlaced, OrderRejected, OrderShipped
from .models import Order
from .values import OrderedItem, OrderLine, total_of

MAX_LINES = 50
MAX_QUANTITY = 100


def _require_customer(actor_id: uuid.UUID | None) -> AccountSummary:
    if actor_id is None:
        raise OrderRejected.refuse("customer_required", "An order is placed by a signed-in customer.")
    customer = account_summary(actor_id)
    if customer is None:
        raise OrderRejected.refuse("account_not_found", "No such account.")
    if not customer.is_active:
        raise OrderRejected.refuse("account_inactive", f"{customer.username} is deactivated.")
    return customer


def _require_valid_lines(lines: tuple[OrderLine, ...]) -> None:
    if not lines:
        raise OrderRejected.refuse("empty_order", "An order has at least one item.")
    if len(lines) > MAX_LINES:
        raise OrderRejected.refuse("too_many_items", f"An order has at most {MAX_LINES} different books.")
    if len({line.book_id for line in lines}) < len(lines):
        raise OrderRejected.refuse("duplicate_book", "Each book appears once in an order, with its quantity.")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise OrderRejected.refuse(
                "invalid_quantity", f"Order 1 to {MAX_QUANTITY} copies of a book, not {line.quantity}."
            )


def _priced(lines: tuple[OrderLine, ...], books: dict[uuid.UUID, catalog.PricedBook]) -> tuple[OrderedItem, ...]:
    """The lines with the catalog's title and current price; every book known, one currency."""
    for line in lines:
        if line.book_id not in books:
            raise OrderRejected.refuse("book_not_found", f"No book has the id {line.book_id}.")
    if len({book.price.currency for book in books.values()}) > 1:
        raise OrderRejected.refuse("mixed_currencies", "Books priced in different currencies go in separate orders.")
    return tuple(
        OrderedItem(
            book_id=line.book_id,
            title=books[line.book_id].title,
            quantity=line.quantity,
            unit_price=books[line.book_id].price,
        )
        for line in lines
    )


def place_order(command: PlaceOrder) -> list[Event]:
    customer = _require_customer(command.actor_id)
    _require_valid_lines(command.items)

    books = catalog.priced_books([line.book_id for line in command.items])

    items = _priced(command.items, books)
    total = total_of(items)

    order_id = uuid.uuid4()
    try:
        reserved = reservations.hold(order_id, {item.book_id: item.quantity for item in items})
    except reservations.InsufficientStock as shortage:
        raise OrderRejected.refuse(
            "insufficient_stock",
            f"Only {shortage.available} of “{shortage.title}” ({shortage.book_id}) available; "
            f"{shortage.requested} requested.",
        ) from None
    orders.add(order_id=order_id, customer_id=customer.account_id, items=items, total=total)
    return [OrderPlaced(order_id=order_id, customer_id=customer.account_id, items=items, total=total), *reserved]


def _require_order(order_id: uuid.UUID) -> Order:
    order = orders.lock(order_id)
    if order is None:
        raise OrderChangeRejected.refuse("order_not_found", "No such order.")
    return order


def _require_transition(order: Order, status: Order.Status) -> None:
    if not order.can_become(status):
        raise OrderChangeRejected.refuse(
            "invalid_transition",
            f"A {order.get_status_display()} order cannot become {status.label}.",
        )


def _require_may_cancel(order: Order, actor_id: uuid.UUID | None) -> None:
    """The customer or staff may cancel; anyone else is told there is no such
    order, as the API answers 404 for other people's orders."""
    if actor_id is None or actor_id == order.customer_id:
        return
    actor = account_summary(actor_id)
    if actor is None or not (actor.is_active and actor.is_staff):
        raise OrderChangeRejected.refuse("order_not_found", "No such order.")


def _move(order: Order, status: Order.Status) -> None:
    order.status = status
    orders.save(order, "status")


def confirm_order(command: ConfirmOrder) -> list[Event]:
    order = _require_order(command.order_id)
    _require_transition(order, Order.Status.CONFIRMED)

    _move(order, Order.Status.CONFIRMED)
    return [OrderConfirmed(order_id=order.pk, customer_id=order.customer_id)]


def ship_order(command: ShipOrder) -> list[Event]:
    order = _require_order(command.order_id)
    _require_transition(order, Order.Status.SHIPPED)

    _move(order, Order.Status.SHIPPED)
    return [OrderShipped(order_id=order.pk, customer_id=order.customer_id), *reservations.ship(order.pk)]


def cancel_order(command: CancelOrder) -> list[Event]:
    order = _require_order(command.order_id)
    _require_may_cancel(order, command.actor_id)
    _require_transition(order, Order.Status.CANCELLED)

    _move(order, Order.Status.CANCELLED)
    return [OrderCancelled(order_id=order.pk, customer_id=order.customer_id)]
