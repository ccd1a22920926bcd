"""Command handlers of the orders context.

Each reads as: fetch state through the repositories (and the catalog's and
accounts' public functions), let the rules decide (``rules`` for placing,
the ``Order`` itself for its moves), save. A refusal is raised as
``Refused``; the bus rolls back everything the handler wrote, stock held in
the catalog included.
"""

import uuid
from datetime import timedelta
from uuid import UUID

from django.conf import settings

from accounts.queries import account_summary, summary_of
from catalog import queries as catalog
from catalog import reservations
from messaging.ambient import current_cause, signed_in_actor
from messaging.features import schedules
from messaging.messages import Event

from . import repositories as orders
from . import rules
from .commands import CancelOrder, ConfirmOrder, ExpireOrder, PlaceOrder, ShipOrder
from .events import OrderChangeRejected, OrderPlaced, OrderRejected
from .models import Order
from .refusals import OrderRefusal
from .values import total_of


def place_order(command: PlaceOrder) -> list[Event]:
    customer_id = _customer(command)
    rules.check_lines(command.items)
    rules.within_caps(
        command.items,
        held=orders.hold_copies(customer_id, sum(line.quantity for line in command.items)),
        per_order=settings.ORDERS_MAX_COPIES_PER_ORDER,
        per_customer=settings.ORDERS_MAX_HELD_COPIES,
    )

    # The books' inventories locked, and their titles and prices read, in one statement; a book not
    # stocked yet (its BookAdded's policy still to run) is priced from the catalog, and held as before.
    book_ids = [line.book_id for line in command.items]
    locked = reservations.lock(book_ids)
    books = reservations.priced(locked)
    if missing := [book_id for book_id in book_ids if book_id not in books]:
        books |= catalog.priced_books(missing)
    items = rules.priced(command.items, books)
    total = total_of(items)

    order_id = uuid.uuid4()
    try:
        reserved = reservations.hold(order_id, {item.book_id: item.quantity for item in items}, locked=locked)
    except reservations.InsufficientStock as shortage:
        raise OrderRejected.refuse(
            OrderRefusal.INSUFFICIENT_STOCK,
            f"Only {shortage.available} of “{shortage.title}” ({shortage.book_id}) available; "
            f"{shortage.requested} requested.",
            subject={"book_id": str(shortage.book_id)},
        ) from None
    placed = OrderPlaced(order_id=order_id, customer_id=customer_id, items=items, total=total)
    # The row is placed when its event says, so the answer built from the event (``queries.as_placed``) is the row.
    orders.add(order_id=order_id, customer_id=customer_id, items=items, total=total, at=placed.occurred_at)
    schedules.schedule(
        ExpireOrder(order_id=order_id),
        after=timedelta(seconds=settings.ORDER_CONFIRM_TIMEOUT),
        key=expiry_key(order_id),
        by=command,
    )
    return [placed, *reserved]


def _customer(command: PlaceOrder) -> UUID:
    """The customer placing the order: the actor, judged by ``rules.customer``
    (active, verified). The row the interface has just read to authenticate
    this request is judged as it is, not read again; any other actor is read
    (the shell, a page signed in by session)."""
    signed = signed_in_actor.get()
    if command.actor_id is not None and current_cause.get() is None and getattr(signed, "pk", None) == command.actor_id:
        account = summary_of(signed)
    else:
        account = account_summary(command.actor_id) if command.actor_id else None
    return rules.customer(command.actor_id, account).account_id


def expiry_key(order_id: uuid.UUID) -> str:
    """The key of an order's expiry schedule, which confirming or cancelling it cancels."""
    return f"ExpireOrder:{order_id}"


def _require_order(order_id: uuid.UUID) -> Order:
    order = orders.lock(order_id)
    if order is None:
        raise OrderChangeRejected.refuse(OrderRefusal.ORDER_NOT_FOUND)
    return order


def _is_active_staff(actor_id: uuid.UUID | None) -> bool:
    actor = account_summary(actor_id) if actor_id else None
    return actor is not None and actor.is_active and actor.is_staff


def _call_off_expiry(order_id: uuid.UUID) -> None:
    """An order confirmed or cancelled has nothing left to expire. Called
    before the order's lock, so this command and a due expiry take the two
    locks in the same order (schedule, then order) and never deadlock; a
    refusal rolls the cancellation back with everything else."""
    schedules.cancel(expiry_key(order_id))


def _save_move(order: Order, *, was: str) -> None:
    """Save the order's new status; one that was pending no longer holds
    copies against its customer's cap."""
    orders.save(order, "status")
    if was == Order.Status.PENDING:
        orders.release_copies(order)


def confirm_order(command: ConfirmOrder) -> list[Event]:
    _call_off_expiry(command.order_id)
    order = _require_order(command.order_id)
    confirmed = order.confirm()
    _save_move(order, was=Order.Status.PENDING)
    return [confirmed]


def ship_order(command: ShipOrder) -> list[Event]:
    order = _require_order(command.order_id)
    shipped = order.ship()
    orders.save(order, "status")
    return [shipped, *reservations.ship(order.pk)]


def cancel_order(command: CancelOrder) -> list[Event]:
    _call_off_expiry(command.order_id)
    order = _require_order(command.order_id)
    was = order.status
    cancelled = order.cancel(actor_id=command.actor_id, actor_is_staff=_is_active_staff(command.actor_id))
    _save_move(order, was=was)
    return [cancelled]


def expire_order(command: ExpireOrder) -> list[Event]:
    order = _require_order(command.order_id)
    hours = settings.ORDER_CONFIRM_TIMEOUT / 3600
    expired = order.expire(reason=f"Nobody confirmed it within {hours:g} hours; its copies are back on sale.")
    _save_move(order, was=Order.Status.PENDING)
    return [expired]
