"""Read side of the catalog context, for interfaces and other contexts."""

from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from .models import Book, Reservation
from .values import Isbn, Money


@dataclass(frozen=True)
class BookView:
    book_id: UUID
    title: str
    author: str
    isbn: str | None
    price: Money
    description: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """What can still be ordered (the ``stock`` shown to customers)."""
        return self.on_hand - self.reserved


def book(book_id: UUID) -> BookView | None:
    """One book with its stock figures, or ``None``."""
    row = books().filter(pk=book_id).first()
    return book_view(row) if row else None


def books() -> QuerySet[Book]:
    """Every book with its inventory, by title and author, for a page of
    them; ``book_view`` turns each row into what the read side shows."""
    return Book.objects.select_related("inventory").order_by("title", "author", "pk")


def titles(book_ids: set[UUID]) -> dict[UUID, str]:
    """The title of each of ``book_ids`` that is a book, in one query."""
    return dict(Book.objects.filter(pk__in=book_ids).values_list("pk", "title"))


def book_view(row: Book) -> BookView:
    return BookView(
        book_id=row.pk,
        title=row.title,
        author=row.author,
        isbn=row.isbn,
        price=row.price,
        description=row.description,
        on_hand=row.inventory.on_hand,
        reserved=row.inventory.reserved,
    )


@dataclass(frozen=True)
class PricedBook:
    book_id: UUID
    title: str
    price: Money


def priced_books(book_ids: list[UUID]) -> dict[UUID, PricedBook]:
    """Title and current price of each of these books that exists, by id."""
    rows = Book.objects.filter(pk__in=book_ids).values_list("pk", "title", "price_amount", "price_currency")
    return {
        pk: PricedBook(book_id=pk, title=title, price=Money(amount, currency)) for pk, title, amount, currency in rows
    }


def book_id_for_isbn(text: str) -> UUID:
    """The id of the book with this ISBN (any accepted form); ``LookupError`` if none."""
    try:
        isbn = Isbn(text)
    except ValidationError:
        raise LookupError(f"{text!r} is not a valid ISBN") from None
    book_id = Book.objects.filter(isbn=isbn.value).values_list("pk", flat=True).first()
    if book_id is None:
        raise LookupError(f"no book has ISBN {isbn}")
    return book_id


def held_stock() -> dict[tuple[UUID, UUID], int]:
    """Stock held for orders and not yet shipped or released: (order id, book id) -> quantity."""
    held = Reservation.objects.filter(status=Reservation.Status.HELD)
    return {
        (order_id, book_id): quantity
        for order_id, book_id, quantity in held.values_list("order_id", "book_id", "quantity")
    }


# What the catalog can be sorted by, each with what breaks its ties; a
# leading ``-`` reverses the first key. ``stock`` is what can still be ordered.
BOOK_ORDERINGS = {
    "title": ("title", "author"),
    "author": ("author", "title"),
    "price": ("price_amount", "title"),
    "stock": ("available", "title"),
}


def search_books(text: str = "", *, in_stock: bool | None = None, ordering: str = "title") -> QuerySet[Book]:
    """``books()`` whose title, author or ISBN contains ``text`` (all when
    empty), only those with copies to order (``in_stock=True``) or none
    (``False``), sorted by one of ``BOOK_ORDERINGS`` (``-`` first: reversed).

    The catalog page and the books API both read through here."""
    rows = books().annotate(available=F("inventory__on_hand") - F("inventory__reserved"))
    if text:
        rows = rows.filter(Q(title__icontains=text) | Q(author__icontains=text) | Q(isbn__icontains=text))
    if in_stock is not None:
        rows = rows.filter(available__gt=0) if in_stock else rows.filter(available__lte=0)
    first, *ties = BOOK_ORDERINGS[ordering.removeprefix("-")]
    return rows.order_by(f"-{first}" if ordering.startswith("-") else first, *ties, "pk")
