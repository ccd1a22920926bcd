"""Every hot read is served by an index: on PostgreSQL, with a few
thousand rows in each big table and fresh statistics, the plan of every
query a hot read runs has no sequential scan of a big table.

The queries are the ones the read side really runs (captured while it runs
them, then passed to ``EXPLAIN``): a page and its ``COUNT``, the prefetch
of an order page's items, the relay's claim of due deliveries.
"""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import queries as accounts
from accounts.models import Account, Block, Follow
from catalog import queries as catalog
from catalog.models import Book, Inventory
from messaging.delivery import claiming
from messaging.models import Delivery, StoredEvent
from messaging.operations import log
from orders import queries as orders
from orders.models import Order, OrderItem

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BIG_TABLES = [
    "accounts_account",
    "accounts_follow",
    "accounts_block",
    "accounts_accountstats",
    "catalog_book",
    "catalog_inventory",
    "orders_order",
    "orders_orderitem",
    "messaging_storedevent",
    "messaging_delivery",
]
PAGE = 20


def seed() -> dict:
    """A few thousand rows in every big table, then ``ANALYZE``; the ids the reads start from."""
    call_command("seed_demo", "--bulk", "--accounts=3000", "--follows=30000", "--books=0", "--orders=0", stdout=None)
    customers = list(Account.objects.values_list("pk", flat=True)[:1000])
    Block.objects.bulk_create(Block(blocker_id=a, blocked_id=b) for a, b in itertools.pairwise(customers))
    books = Book.objects.bulk_create(
        Book(title=f"Title {n % 700}", author=f"Author {n}", price_amount=Decimal("9.99")) for n in range(3000)
    )
    Inventory.objects.bulk_create(Inventory(book=book, on_hand=10, initial_stock_received=True) for book in books)
    now = timezone.now()
    placed = Order.objects.bulk_create(
        Order(
            customer_id=customers[n % len(customers)],
            total_amount=Decimal("19.98"),
            currency="USD",
            placed_at=now - timedelta(minutes=n),
        )
        for n in range(5000)
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, book_id=books[(n + k) % len(books)].pk, title="t", quantity=1, unit_price_amount=1)
        for n, order in enumerate(placed)
        for k in range(2)
    )
    events = list(StoredEvent.objects.values_list("event_id", flat=True))
    # The history a relay's claim looks past: a done delivery per event (the seed's follows open none, their
    # counts being projected inline), and a page's worth pending.
    Delivery.objects.bulk_create(
        (Delivery(event_id=event_id, policy="bench.done", status=Delivery.Status.DONE) for event_id in events),
        batch_size=5000,
    )
    Delivery.objects.bulk_create(Delivery(event_id=event_id, policy="bench.pending") for event_id in events[:200])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    popular = Follow.objects.values_list("followee_id", flat=True).order_by("followee_id").first()
    return {
        "viewer": customers[0],
        "username": Account.objects.values_list("username", flat=True).get(pk=customers[0]),
        "popular": popular,
        "correlation": StoredEvent.objects.values_list("correlation_id", flat=True).order_by("-position").first(),
    }


def hot_reads(ids: dict) -> dict:
    """Each hot read, as the interfaces run it (a page of ``PAGE`` rows and its count)."""
    viewer, popular = ids["viewer"], ids["popular"]

    def page(rows):
        return lambda: (list(rows[:PAGE]), rows.count())

    return {
        "profile": lambda: accounts.account(popular),
        "sign-in and @username lookup": lambda: (
            Account.objects.get_by_natural_key(ids["username"].upper()),
            accounts.account_id_for_username(ids["username"]),
        ),
        "relationship": lambda: accounts.relationship(viewer, popular),
        "followers page": page(accounts.followers_of(popular)),
        "following page": page(accounts.followed_by(viewer)),
        "catalog page": lambda: [catalog.book_view(row) for row in catalog.books()[:PAGE]],
        "my orders page": lambda: (
            [orders.order_view(row) for row in orders.orders(customer_id=viewer)[:PAGE]],
            orders.orders(customer_id=viewer).count(),
        ),
        "staff orders page": lambda: [orders.order_view(row) for row in orders.orders()[:PAGE]],
        "event log of a correlation id": page(log.stored_events(correlation_id=ids["correlation"])),
        "trace index: the latest requests": lambda: log.recent_requests(PAGE),
        "trace index: the troubled requests": lambda: log.recent_requests(PAGE, troubled=True),
        "due deliveries claim": lambda: list(claiming.due(timezone.now(), PAGE)),
    }


def plans(read) -> list[str]:
    """The plan of every query ``read`` runs."""
    with CaptureQueriesContext(connection) as captured:
        read()
    with connection.cursor() as cursor:
        found = []
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            found.append(query["sql"] + "\n" + "\n".join(row[0] for row in cursor.fetchall()))
        return found


def seq_scans(plan: str) -> list[str]:
    return [table for table in BIG_TABLES if f"Seq Scan on {table} " in plan or plan.endswith(f"Seq Scan on {table}")]


def test_every_hot_read_is_served_by_an_index():
    # given
    ids = seed()

    # when
    found = {name: plans(read) for name, read in hot_reads(ids).items()}

    # then
    assert all(found.values()), "every read ran at least one query"
    scanned = {name: plan for name, queries in found.items() for plan in queries if seq_scans(plan)}
    assert not scanned, "\n\n".join(f"{name}:\n{plan}" for name, plan in scanned.items())
