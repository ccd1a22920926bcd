"""Who may open which page: anonymous, the owner, another customer, staff.

Each row names a page about the owner (``{owner}``), a book (``{book}``)
or the owner's order (``{order}``) and the status each caller gets:
sign-in pages send a visitor to log in (302), staff pages answer 403 to
customers, malformed ids and bodies answer 4xx or a redirect with a
message, never 5xx. Writes carry a valid CSRF token (the client's
default) and a fresh idempotency key unless the row breaks them.
"""

import uuid

import pytest
from django.test import Client

from messaging import bus
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

KEY = "fresh"  # replaced by a new UUID per request

# method, path, body, then the status for each of CALLERS in turn
MATRIX = [
    ("get", "/", None, 200, 200, 200, 200),
    ("get", "/signup/", None, 200, 302, 302, 302),  # the signed-in are signed up already
    ("get", "/login/", None, 200, 200, 200, 200),
    ("get", "/books/", None, 200, 200, 200, 200),
    ("get", "/books/{book}/", None, 200, 200, 200, 200),
    ("get", "/books/{unknown}/", None, 404, 404, 404, 404),
    ("get", "/books/not-a-uuid/", None, 404, 404, 404, 404),
    ("get", "/books/", {"page": "x" * 500, "q": "\x00"}, 200, 200, 200, 200),
    ("get", "/orders/", None, 302, 200, 200, 200),
    ("post", "/orders/place/", {"book_id": "{book}", "quantity": 1, "idempotency_key": KEY}, 302, 302, 302, 302),
    ("post", "/orders/place/", {"book_id": "nope", "quantity": "-1", "idempotency_key": "x"}, 302, 302, 302, 302),
    ("post", "/orders/{order}/cancel/", {"idempotency_key": KEY}, 302, 302, 302, 302),
    ("post", "/orders/not-a-uuid/cancel/", {"idempotency_key": KEY}, 404, 404, 404, 404),
    ("get", "/orders/{order}/cancel/", None, 302, 200, 404, 200),  # the question before cancelling
    ("get", "/people/", None, 302, 200, 200, 200),
    ("get", "/people/", {"q": "x" * 100}, 302, 200, 200, 200),
    ("get", "/people/{owner}/", None, 302, 200, 200, 200),
    ("get", "/people/nobody_here/", None, 302, 404, 404, 404),
    ("get", "/people/{owner}/followers/", None, 302, 200, 200, 200),
    ("get", "/people/{owner}/following/", None, 302, 200, 200, 200),
    ("post", "/people/{owner}/follow/", {"idempotency_key": KEY}, 302, 302, 302, 302),
    ("post", "/people/{owner}/block/", {"idempotency_key": "not-a-key"}, 302, 302, 302, 302),
    ("get", "/people/{owner}/block/", None, 302, 200, 200, 200),  # the question before blocking
    ("get", "/people/{owner}/follow/", None, 302, 405, 405, 405),
    ("post", "/people/{owner}/fly/", {"idempotency_key": KEY}, 302, 404, 404, 404),
    ("get", "/account/", None, 302, 200, 200, 200),
    ("get", "/account/export/", None, 302, 200, 200, 200),
    ("get", "/account/forget/", None, 302, 200, 200, 200),  # the question before forgetting
    ("post", "/account/forget/", {"password": "wrong", "idempotency_key": KEY}, 302, 200, 200, 200),
    ("post", "/account/tokens/revoke/", None, 302, 302, 302, 302),
    ("post", "/account/tokens/{unknown}/revoke/", None, 302, 302, 302, 302),
    ("post", "/account/tokens/not-a-uuid/revoke/", None, 404, 404, 404, 404),
    ("get", "/staff/", None, 302, 403, 403, 200),
    ("get", "/staff/books/", None, 302, 403, 403, 200),
    ("post", "/staff/books/", {"title": "", "price": "free", "idempotency_key": KEY}, 302, 403, 403, 200),
    ("post", "/staff/books/{book}/restock/", {"quantity": "many", "idempotency_key": KEY}, 302, 403, 403, 302),
    ("get", "/staff/orders/", None, 302, 403, 403, 200),
    ("post", "/staff/orders/{order}/confirm/", {"idempotency_key": KEY}, 302, 403, 403, 302),
    ("post", "/staff/orders/{order}/explode/", {"idempotency_key": KEY}, 302, 403, 403, 404),
    ("get", "/staff/mail/", None, 302, 403, 403, 200),
    ("get", "/trace/", None, 302, 403, 403, 200),
    ("get", "/trace/{unknown}/", None, 302, 403, 403, 404),
    ("get", "/trace/", {"correlation_id": "nope"}, 302, 403, 403, 200),
    ("get", "/admin/", None, 302, 302, 302, 200),
    ("get", "/admin/accounts/account/{unknown}/change/", None, 302, 302, 302, 302),
    ("post", "/admin/login/", {"username": "\x00" * 200, "password": ""}, 200, 200, 200, 200),
    ("post", "/login/", {"username": ["a", "b"], "password": "x" * 5000}, 200, 200, 200, 200),
    ("post", "/signup/", {"username": "no spaces", "email": "x", "idempotency_key": KEY}, 200, 302, 302, 302),
]
CALLERS = ["anonymous", "owner", "other", "staff"]


@pytest.mark.parametrize(
    ("method", "path", "body", "caller", "expected"),
    [
        pytest.param(method, path, body, caller, statuses[index], id=f"{method} {path} #{row} as {caller}")
        for row, (method, path, body, *statuses) in enumerate(MATRIX)
        for index, caller in enumerate(CALLERS)
    ],
)
def test_each_caller_gets_the_status_each_page_gives(db, method, path, body, caller, expected):
    # given
    owner = AccountFactory(username="owner")
    callers = {"owner": owner, "other": AccountFactory(), "staff": AccountFactory(is_staff=True, is_superuser=True)}
    book = BookFactory()
    order = bus.dispatch(place(owner, (book, 1))).events[0]
    names = {"owner": owner.username, "book": book.pk, "order": order.order_id, "unknown": uuid.UUID(int=7)}
    client = Client()
    if caller != "anonymous":
        client.force_login(callers[caller])
    data = {
        name: str(uuid.uuid4()) if value == KEY else value.format(**names) if isinstance(value, str) else value
        for name, value in (body or {}).items()
    }

    # when
    response = getattr(client, method)(path.format(**names), data)

    # then
    assert response.status_code == expected, response.content[:300]
