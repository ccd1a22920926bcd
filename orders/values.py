"""Value objects of the orders context. Prices are the catalog's ``Money``:
this is where orders names the catalog's vocabulary, so its rows need not."""

from dataclasses import dataclass
from uuid import UUID

from catalog.values import MAX_TITLE, Money

# How big one order may be: the handler refuses more, and the forms and
# serializers take their limits from here.
MAX_LINES = 50  # different books
MAX_QUANTITY = 100  # copies of one book

# An item keeps its book's title as it was: as long as the catalog allows.
MAX_ITEM_TITLE = MAX_TITLE


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    """A line as the customer asks for it: a book and how many copies. It has
    no price on purpose: the price is the catalog's, taken at placement."""

    book_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class OrderedItem:
    """A line of a placed order, with the book's title and price as they were then."""

    book_id: UUID
    title: str
    quantity: int
    unit_price: Money

    @property
    def subtotal(self) -> Money:
        return self.unit_price.times(self.quantity)


def total_of(items: tuple[OrderedItem, ...]) -> Money:
    """What the items cost together; they share one currency, and there is at least one."""
    total = Money.zero(items[0].unit_price.currency)
    for item in items:
        total += item.subtotal
    return total
