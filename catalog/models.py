"""Rows of the catalog context: books, their inventory, and stock held for orders."""

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .values import Money


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    author = models.CharField(max_length=150)
    isbn = models.CharField(
        max_length=13, null=True, blank=True, unique=True, help_text="The 13 digits of its ISBN-13, when it has one."
    )
    price_amount = models.DecimalField(max_digits=11, decimal_places=2)
    price_currency = models.CharField(max_length=3, default="USD")
    description = models.TextField(blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "author"]
        constraints = [models.CheckConstraint(condition=Q(price_amount__gte=0), name="book_price_not_negative")]
        indexes = [models.Index(fields=["title", "author", "id"], name="book_catalog_order")]  # the catalog page

    def __str__(self):
        return f"{self.title} ({self.author})"

    @property
    def price(self) -> Money:
        return Money(self.price_amount, self.price_currency)


class Inventory(models.Model):
    """How many copies of a book the shop has (``on_hand``) and how many of
    those are promised to orders not shipped yet (``reserved``).

    Created with its book, empty; the policy on ``BookAdded`` gives it its
    initial stock once (``initial_stock_received`` says it did).
    """

    MAX_ON_HAND = 1_000_000

    book = models.OneToOneField(Book, primary_key=True, on_delete=models.CASCADE, related_name="inventory")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    initial_stock_received = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "inventories"
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="inventory_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="inventory_reserved_within_on_hand"),
        ]

    def __str__(self):
        return f"{self.book_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        """What can still be ordered."""
        return self.on_hand - self.reserved

    def restock(self, quantity: int) -> None:
        self.on_hand += quantity

    def hold(self, quantity: int) -> None:
        """Promise copies to an order; the caller has checked ``available``."""
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        self.reserved -= quantity

    def ship(self, quantity: int) -> None:
        """Promised copies leave the shop."""
        self.on_hand -= quantity
        self.reserved -= quantity


class Reservation(models.Model):
    """Copies of one book held for one order (the catalog knows the order
    only by its id). Its status makes releasing or shipping it happen once."""

    class Status(models.TextChoices):
        HELD = "held", "held"
        RELEASED = "released", "released"
        SHIPPED = "shipped", "shipped"

    order_id = models.UUIDField(db_index=True)
    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.IntegerField()
    status = models.CharField(max_length=10, choices=Status, default=Status.HELD)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order_id", "book"], name="one_reservation_per_order_and_book"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.book_id} for order {self.order_id} ({self.status})"
