"""Every list endpoint of the API runs the same number of queries for a page
of 2 rows as for a page of 50: no query per row (N+1), whatever the data.

Each endpoint has one figure, ``QUERIES``: the bound it must stay under and
the count it runs at both sizes. The counts include authentication (one
query for the token and its account) and, for a page, DRF's ``COUNT``.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Block, Follow
from accounts.projections import recount
from accounts.queries import account
from messaging.models import StoredEvent
from orders.models import Order, OrderItem
from tests.support.factories import AccountFactory, BookFactory

SIZES = [2, 50]

# endpoint -> queries per request, the same at every size
QUERIES = {
    "accounts": 3,  # token, count, page with counts
    "followers": 4,  # token, the account exists, count, page with counts
    "following": 4,
    "books": 3,  # token, count, page with inventory
    "orders as owner": 4,  # token, count, page, items of the page
    "orders as staff": 4,
    "events": 3,  # token, count, page
    "account": 2,  # token, the account with counts
    "relationship": 2,  # token, one query for the four facts
    "me": 2,  # token, the account with counts
}


def _accounts(count: int) -> list:
    return AccountFactory.create_batch(count)


def _followed(size, alice, signed_in, staff):
    followers = _accounts(size)
    Follow.objects.bulk_create(Follow(follower=account, followee=alice) for account in followers)
    recount([alice.pk, *(account.pk for account in followers)])
    return signed_in(alice), f"/api/v1/accounts/{alice.pk}/followers/", {}


def _following(size, alice, signed_in, staff):
    followees = _accounts(size)
    Follow.objects.bulk_create(Follow(follower=alice, followee=account) for account in followees)
    recount([alice.pk, *(account.pk for account in followees)])
    return signed_in(alice), f"/api/v1/accounts/{alice.pk}/following/", {}


def _directory(size, alice, signed_in, staff):
    others = _accounts(size - 2)  # alice and staff are in the directory too
    Follow.objects.bulk_create(Follow(follower=account, followee=alice) for account in others)
    recount([alice.pk, *(account.pk for account in others)])
    return signed_in(alice), "/api/v1/accounts/", {}


def _books(size, alice, signed_in, staff):
    BookFactory.create_batch(size)
    return signed_in(alice), "/api/v1/books/", {}


def _orders(customer, count: int) -> None:
    books = BookFactory.create_batch(2)
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            customer_id=customer.pk, total_amount=Decimal("25.98"), currency="USD", placed_at=now - timedelta(minutes=n)
        )
        for n in range(count)
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, book_id=book.pk, title=book.title, quantity=1, unit_price_amount=book.price_amount)
        for order in orders
        for book in books
    )


def _own_orders(size, alice, signed_in, staff):
    _orders(alice, size)
    _orders(AccountFactory(), 3)  # someone else's, not on alice's page
    return signed_in(alice), "/api/v1/orders/", {}


def _all_orders(size, alice, signed_in, staff):
    _orders(alice, size - 1)
    _orders(AccountFactory(), 1)
    return signed_in(staff), "/api/v1/orders/", {}


def _events(size, alice, signed_in, staff):
    mine, now = uuid.uuid4(), timezone.now()
    StoredEvent.objects.bulk_create(
        StoredEvent(
            event_id=uuid.uuid4(),
            type="AccountFollowed",
            payload={"follower_id": str(alice.pk), "n": n},
            occurred_at=now,
            command_id=uuid.uuid4(),
            command_type="FollowAccount",
            correlation_id=correlation,
        )
        for n in range(size)
        for correlation in (mine, uuid.uuid4())
    )
    return signed_in(staff), "/api/v1/events/", {"correlation_id": str(mine)}


PAGES = {
    "accounts": _directory,
    "followers": _followed,
    "following": _following,
    "books": _books,
    "orders as owner": _own_orders,
    "orders as staff": _all_orders,
    "events": _events,
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("endpoint", PAGES)
def test_a_page_costs_the_same_queries_for_2_rows_as_for_50(
    endpoint, size, alice, staff, signed_in, django_assert_max_num_queries
):
    # given
    client, url, query = PAGES[endpoint](size, alice, signed_in, staff)

    # when
    with django_assert_max_num_queries(QUERIES[endpoint]) as captured:
        response = client.get(url, {**query, "page_size": 50})

    # then
    assert response.status_code == 200, response.data
    assert len(response.data["results"]) == size
    assert len(captured) == QUERIES[endpoint], "a page costs the same queries at every size"


def _graph(size, alice, bob):
    """``alice`` and ``bob`` each with ``size`` followers and followees, a block between them."""
    others = _accounts(size)
    Follow.objects.bulk_create(
        Follow(follower=a, followee=b) for other in others for a, b in ((other, alice), (alice, other), (other, bob))
    )
    Follow.objects.create(follower=bob, followee=alice)
    Block.objects.create(blocker=alice, blocked=bob)
    recount([alice.pk, bob.pk, *(other.pk for other in others)])


ONE = {
    "account": lambda alice, bob: f"/api/v1/accounts/{alice.pk}/",
    "relationship": lambda alice, bob: f"/api/v1/accounts/{alice.pk}/relationship/",
    "me": lambda alice, bob: "/api/v1/accounts/me/",
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("endpoint", ONE)
def test_an_account_read_costs_the_same_queries_whatever_its_graph(
    endpoint, size, alice, bob, signed_in, django_assert_max_num_queries
):
    # given
    _graph(size, alice, bob)
    client = signed_in(bob)

    # when
    with django_assert_max_num_queries(QUERIES[endpoint]) as captured:
        response = client.get(ONE[endpoint](alice, bob))

    # then
    assert response.status_code == 200, response.data
    assert len(captured) == QUERIES[endpoint], "an account read costs the same queries whatever its graph"


# token; the command's transaction (its savepoint here, BEGIN in production): the pair locked, the
# block, follow and limit checks (one query), the follow, its event, the two counts; its release; the
# relationship read
FOLLOW = 10


def test_a_follow_over_http_runs_in_one_transaction_with_its_counts_and_no_delivery(
    alice, bob, signed_in, django_capture_on_commit_callbacks
):
    recount([alice.pk, bob.pk])  # their counts rows, as registering opens them
    client = signed_in(alice)

    with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/accounts/{bob.pk}/follow/")

    assert response.status_code == 201, response.data
    statements = [query["sql"] for query in captured]
    assert not [sql for sql in statements if "messaging_delivery" in sql]
    assert len(statements) == FOLLOW, "\n".join(statements)
    assert (account(alice.pk).following_count, account(bob.pk).followers_count) == (1, 1)
