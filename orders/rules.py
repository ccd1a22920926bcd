"""The rules of placing an order.

Pure functions of what a handler fetched: each returns what was decided or
raises the rejection, and none touches the database. The moves of a placed
order (confirm, ship, cancel, expire) and whose an order is are the
``Order``'s own (``orders.models``).
"""

from uuid import UUID

from accounts.queries import AccountSummary
from accounts.refusals import AccountRefusal
from catalog.queries import PricedBook
from catalog.refusals import CatalogRefusal

from .events import OrderRejected
from .models import is_theirs as is_theirs  # whose an order is: the order's own rule, named here too
from .refusals import OrderRefusal
from .values import MAX_LINES, MAX_QUANTITY, OrderedItem, OrderLine


def customer(actor_id: UUID | None, account: AccountSummary | None) -> AccountSummary:
    """The customer placing an order: the actor, signed in, active, and
    verified (an order holds copies: someone who proved an address)."""
    if actor_id is None:
        raise OrderRejected.refuse(OrderRefusal.CUSTOMER_REQUIRED)
    if account is None:
        raise OrderRejected.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    if not account.is_active:
        raise OrderRejected.refuse(AccountRefusal.ACCOUNT_INACTIVE, "Your account is deactivated.")
    if not account.email_verified:
        raise OrderRejected.refuse(AccountRefusal.EMAIL_NOT_VERIFIED)
    return account


def check_lines(lines: tuple[OrderLine, ...]) -> None:
    """An order has 1 to ``MAX_LINES`` lines, each book once, 1 to ``MAX_QUANTITY`` copies each."""
    if not lines:
        raise OrderRejected.refuse(OrderRefusal.EMPTY_ORDER)
    if len(lines) > MAX_LINES:
        raise OrderRejected.refuse(OrderRefusal.TOO_MANY_ITEMS, f"An order has at most {MAX_LINES} different books.")
    if len({line.book_id for line in lines}) < len(lines):
        raise OrderRejected.refuse(OrderRefusal.DUPLICATE_BOOK)
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise OrderRejected.refuse(
                CatalogRefusal.INVALID_QUANTITY, f"Order 1 to {MAX_QUANTITY} copies of a book, not {line.quantity}."
            )


def within_caps(lines: tuple[OrderLine, ...], *, held: int, per_order: int, per_customer: int) -> None:
    """An order holds at most ``per_order`` copies, and with the ``held``
    copies of the customer's orders still pending at most ``per_customer``:
    what one customer may keep off the shelf while nobody confirmed it."""
    copies = sum(line.quantity for line in lines)
    if copies > per_order:
        raise OrderRejected.refuse(
            OrderRefusal.ORDER_TOO_LARGE, f"An order holds at most {per_order} copies; this one asks for {copies}."
        )
    if held + copies > per_customer:
        raise OrderRejected.refuse(
            OrderRefusal.HOLD_LIMIT_REACHED,
            f"Your pending orders hold {held} copies; a customer may hold {per_customer} until the shop confirms "
            f"them, so this order of {copies} waits until then (or cancel one).",
        )


def priced(lines: tuple[OrderLine, ...], books: dict[UUID, PricedBook]) -> tuple[OrderedItem, ...]:
    """The lines with the catalog's title and current price; every book must
    be known, and all priced in one currency."""
    for line in lines:
        if line.book_id not in books:
            raise OrderRejected.refuse(CatalogRefusal.BOOK_NOT_FOUND, f"No book has the id {line.book_id}.")
    if len({book.price.currency for book in books.values()}) > 1:
        raise OrderRejected.refuse(OrderRefusal.MIXED_CURRENCIES)
    return tuple(
        OrderedItem(
            book_id=line.book_id,
            title=books[line.book_id].title,
            quantity=line.quantity,
            unit_price=books[line.book_id].price,
        )
        for line in lines
    )
