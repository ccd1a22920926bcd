"""Rows of the orders context: orders and their items.

Books and customers are referred to by id only: they belong to the catalog
and accounts contexts, which orders reach through their queries.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.values import Money


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
    title = models.CharField(max_length=200, help_text="The book's title when the order was placed.")
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
