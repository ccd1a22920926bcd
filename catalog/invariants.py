"""Consistency rules of the catalog, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator

from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Inventory, Reservation


def stock_is_never_negative() -> Iterator[str]:
    """On hand and reserved are at least 0, and no more is reserved than is on hand."""
    broken = Inventory.objects.filter(Q(on_hand__lt=0) | Q(reserved__lt=0) | Q(reserved__gt=F("on_hand")))
    for book_id, on_hand, reserved in broken.values_list("book_id", "on_hand", "reserved"):
        yield f"book {book_id}: on hand {on_hand}, reserved {reserved}"


def reserved_is_what_reservations_hold() -> Iterator[str]:
    """Each book's reserved figure is the sum of the reservations held for it."""
    held = (
        Reservation.objects.filter(book=OuterRef("book"), status=Reservation.Status.HELD)
        .values("book")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    inventories = Inventory.objects.annotate(
        held=Coalesce(Subquery(held, output_field=IntegerField()), Value(0))
    ).exclude(reserved=F("held"))
    for book_id, reserved, held_total in inventories.values_list("book_id", "reserved", "held"):
        yield f"book {book_id}: reserved {reserved}, but reservations hold {held_total}"
