"""Rows of the orders context: orders and their items. An ``Order`` moves
itself from status to status, every move by its table ``Order.MOVES``.

Books and customers are referred to by id only: they belong to the catalog
and accounts contexts, which orders reach through their queries. Nothing
here imports them.
"""

import uuid
from typing import NamedTuple
from uuid import UUID

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .events import OrderCancelled, OrderChangeRejected, OrderConfirmed, OrderExpired, OrderShipped
from .refusals import OrderRefusal
from .values import MAX_ITEM_TITLE, Money


def is_theirs(customer_id: UUID, *, actor_id: UUID | None, actor_is_staff: bool) -> bool:
    """Whether an order of ``customer_id`` is the actor's to see and cancel:
    its customer's and staff's. To anyone else it does not exist (404)."""
    return actor_is_staff or actor_id == customer_id


class Move(NamedTuple):
    """A move of an order: the statuses it starts from, the one it ends in,
    and what a refusal says (of the order's ``status`` and the move's ``end``)."""

    start: frozenset[str]
    end: str
    refused: str = "A {status} order cannot become {end}."


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "pending"
        CONFIRMED = "CONFIRMED", "confirmed"
        SHIPPED = "SHIPPED", "shipped"
        CANCELLED = "CANCELLED", "cancelled"

    # Every move an order makes, by name; nothing else sets its status.
    MOVES = {
        "confirm": Move(frozenset({Status.PENDING}), Status.CONFIRMED),
        "ship": Move(frozenset({Status.CONFIRMED}), Status.SHIPPED),
        "cancel": Move(frozenset({Status.PENDING, Status.CONFIRMED}), Status.CANCELLED),
        # Not a cancellation: only a PENDING order lapses, whatever came first.
        "expire": Move(frozenset({Status.PENDING}), Status.CANCELLED, "A {status} order does not expire."),
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField()
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    total_amount = models.DecimalField(max_digits=11, decimal_places=2)
    currency = models.CharField(max_length=3)
    placed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [models.CheckConstraint(condition=Q(total_amount__gte=0), name="order_total_not_negative")]
        indexes = [
            # a customer's orders page, newest first (and any lookup by customer)
            models.Index(fields=["customer_id", "-placed_at", "id"], name="order_by_customer_newest"),
            models.Index(fields=["-placed_at", "id"], name="order_newest"),  # every order, for staff
        ]

    def __str__(self):
        return f"order {self.pk} ({self.status})"

    @property
    def total(self) -> Money:
        return Money(self.total_amount, self.currency)

    def confirm(self) -> OrderConfirmed:
        """The shop accepts a pending order."""
        self._move("confirm")
        return OrderConfirmed(order_id=self.pk, customer_id=self.customer_id)

    def ship(self) -> OrderShipped:
        """A confirmed order leaves the shop (its stock moves with it: ``catalog.reservations.ship``)."""
        self._move("ship")
        return OrderShipped(order_id=self.pk, customer_id=self.customer_id)

    def cancel(self, *, actor_id: UUID | None, actor_is_staff: bool) -> OrderCancelled:
        """Its customer or staff cancel an order before it ships; anyone else
        is told there is no such order, as the API answers 404 for other
        people's orders. No actor at all (the shell, a policy) may too."""
        if actor_id is not None and not is_theirs(self.customer_id, actor_id=actor_id, actor_is_staff=actor_is_staff):
            raise OrderChangeRejected.refuse(OrderRefusal.ORDER_NOT_FOUND)
        self._move("cancel")
        return OrderCancelled(order_id=self.pk, customer_id=self.customer_id)

    def expire(self, *, reason: str) -> OrderExpired:
        """A pending order nobody confirmed in time ends, cancelled; any
        other order is left as it is (refused), whatever came first."""
        self._move("expire")
        return OrderExpired(order_id=self.pk, customer_id=self.customer_id, reason=reason)

    def _move(self, name: str) -> None:
        """Make the move ``name`` if the order's status allows it; otherwise
        refuse (``invalid_transition``) and change nothing."""
        move = self.MOVES[name]
        if self.status not in move.start:
            raise OrderChangeRejected.refuse(
                OrderRefusal.INVALID_TRANSITION,
                move.refused.format(status=self.get_status_display(), end=Order.Status(move.end).label),
            )
        self.status = move.end


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", db_index=False
    )  # (order, book_id) serves it
    book_id = models.UUIDField()
    title = models.CharField(max_length=MAX_ITEM_TITLE, help_text="The book's title when the order was placed.")
    quantity = models.IntegerField()
    unit_price_amount = models.DecimalField(
        max_digits=11, decimal_places=2, help_text="The catalog's price when the order was placed."
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "book_id"], name="one_item_per_order_and_book"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price_amount__gte=0), name="order_item_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.title}"


class HeldCopies(models.Model):
    """The copies a customer's pending orders hold: the figure the cap
    (``ORDERS_MAX_HELD_COPIES``) is checked against. Placing an order adds
    its copies, locking the row, in one statement (two orders of one
    customer queue on it); an order that stops pending (confirmed,
    cancelled, expired) takes its copies off (``orders.repositories``)."""

    customer_id = models.UUIDField(primary_key=True)
    copies = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "held copies"

    def __str__(self):
        return f"{self.copies} copies held by {self.customer_id}"
