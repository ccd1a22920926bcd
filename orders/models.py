"""Rows of the orders context: orders and their items. An ``Order`` moves
itself from status to status, by the rules in ``ALLOWED_FROM``.

Books and customers are referred to by id only: they belong to the catalog
and accounts contexts, which orders reach through their queries.
"""

import uuid
from uuid import UUID

from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.values import MAX_TITLE, Money

from .events import OrderCancelled, OrderChangeRejected, OrderConfirmed, OrderExpired, OrderShipped
from .refusals import OrderRefusal
from .rules import is_theirs


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "pending"
        CONFIRMED = "CONFIRMED", "confirmed"
        SHIPPED = "SHIPPED", "shipped"
        CANCELLED = "CANCELLED", "cancelled"

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

    def can_become(self, status: "Order.Status") -> bool:
        return self.status in ALLOWED_FROM[status]

    def confirm(self) -> OrderConfirmed:
        """The shop accepts a pending order."""
        self._become(Order.Status.CONFIRMED)
        return OrderConfirmed(order_id=self.pk, customer_id=self.customer_id)

    def ship(self) -> OrderShipped:
        """A confirmed order leaves the shop (its stock moves with it: ``catalog.reservations.ship``)."""
        self._become(Order.Status.SHIPPED)
        return OrderShipped(order_id=self.pk, customer_id=self.customer_id)

    def cancel(self, *, actor_id: UUID | None, actor_is_staff: bool) -> OrderCancelled:
        """Its customer or staff cancel an order before it ships; anyone else
        is told there is no such order, as the API answers 404 for other
        people's orders. No actor at all (the shell, a policy) may too."""
        if actor_id is not None and not is_theirs(self.customer_id, actor_id=actor_id, actor_is_staff=actor_is_staff):
            raise OrderChangeRejected.refuse(OrderRefusal.ORDER_NOT_FOUND)
        self._become(Order.Status.CANCELLED)
        return OrderCancelled(order_id=self.pk, customer_id=self.customer_id)

    def expire(self, *, reason: str) -> OrderExpired:
        """A pending order nobody confirmed in time ends, cancelled; any
        other order is left as it is (refused), whatever came first."""
        if self.status != Order.Status.PENDING:
            raise OrderChangeRejected.refuse(
                OrderRefusal.INVALID_TRANSITION, f"A {self.get_status_display()} order does not expire."
            )
        self.status = Order.Status.CANCELLED
        return OrderExpired(order_id=self.pk, customer_id=self.customer_id, reason=reason)

    def _become(self, status: "Order.Status") -> None:
        if not self.can_become(status):
            raise OrderChangeRejected.refuse(
                OrderRefusal.INVALID_TRANSITION, f"A {self.get_status_display()} order cannot become {status.label}."
            )
        self.status = status


# The statuses an order may move to, each with the statuses it may move from.
ALLOWED_FROM = {
    Order.Status.CONFIRMED: {Order.Status.PENDING},
    Order.Status.SHIPPED: {Order.Status.CONFIRMED},
    Order.Status.CANCELLED: {Order.Status.PENDING, Order.Status.CONFIRMED},
}


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", db_index=False
    )  # (order, book_id) serves it
    book_id = models.UUIDField()
    title = models.CharField(max_length=MAX_TITLE, help_text="The book's title when the order was placed.")
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
