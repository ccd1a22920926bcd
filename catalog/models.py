"""Rows of the catalog context: books, their inventory, and stock held for
orders. A ``Book`` changes its own price and an ``Inventory`` moves its own
stock, each as ``rules`` decide."""

import uuid
from uuid import UUID

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from . import rules
from .events import BookPriceChanged, BookRestocked, BookStocked, StockReleased, StockReserved, StockShipped
from .values import MAX_AUTHOR, MAX_ON_HAND, MAX_TITLE, Money


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=MAX_TITLE)
    author = models.CharField(max_length=MAX_AUTHOR)
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

    def change_price(self, price: Money) -> BookPriceChanged | None:
        """Sell the book at ``price`` from now on; ``None`` if that is its price already."""
        changed = rules.price_changed(self.pk, previous=self.price, price=price)
        if changed is not None:
            self.price_amount, self.price_currency = price.amount, price.currency
        return changed


class Inventory(models.Model):
    """How many copies of a book the shop has (``on_hand``) and how many of
    those are promised to orders not shipped yet (``reserved``).

    Created with its book, empty; the policy on ``BookAdded`` gives it its
    initial stock once (``initial_stock_received`` says it did).
    """

    MAX_ON_HAND = MAX_ON_HAND

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

    def stock_initially(self, quantity: int) -> BookStocked | None:
        """Receive a new book's first ``quantity`` copies, once: ``None`` when
        they were received already."""
        stocked = rules.stocked(
            self.book_id, on_hand=self.on_hand, received=self.initial_stock_received, quantity=quantity
        )
        if stocked is not None:
            self.on_hand, self.initial_stock_received = stocked.on_hand, True
        return stocked

    def restock(self, quantity: int) -> BookRestocked:
        """Receive ``quantity`` more copies."""
        restocked = rules.restocked(self.book_id, on_hand=self.on_hand, quantity=quantity)
        self.on_hand = restocked.on_hand
        return restocked

    def hold(self, order_id: UUID, quantity: int) -> StockReserved:
        """Promise copies to an order, if that many are ``available``;
        otherwise ``InsufficientStock`` and nothing changes."""
        reserved = rules.reserved(
            self.book_id, order_id, title=self.book.title, available=self.available, quantity=quantity
        )
        self.reserved += quantity
        return reserved

    def release(self, order_id: UUID, quantity: int) -> StockReleased:
        """Copies promised to an order are available again."""
        self.reserved -= quantity
        return StockReleased(book_id=self.book_id, order_id=order_id, quantity=quantity)

    def ship(self, order_id: UUID, quantity: int) -> StockShipped:
        """Promised copies leave the shop with their order."""
        self.on_hand -= quantity
        self.reserved -= quantity
        return StockShipped(book_id=self.book_id, order_id=order_id, quantity=quantity)


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
