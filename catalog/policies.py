"""Consequences of catalog events, run after the event's transaction commits."""

from django.conf import settings

from .commands import StockNewBook
from .events import BookAdded


def stock_new_book(event: BookAdded):
    """A book added to the catalog arrives with ``INITIAL_STOCK`` copies."""
    return [StockNewBook(book_id=event.book_id, quantity=settings.INITIAL_STOCK)]
