"""Who may call what: anonymous, the owner, another user, staff.

Each row names an endpoint acting on the owner's account (``{owner}``), a
book (``{book}``), the owner's order (``{order}``) or a delivery of its
events (``{delivery}``, pending: staff get 409 for a retry or discard, which
only a failed or dead one allows, and may skip it), and the status each caller gets.
Sign-in is needed everywhere but registration, verifying an address (the
mailed token is the proof), signing in for a token, the catalog and the
schema: without it the answer is 401. Staff-only rows
answer 403 to others; someone else's order answers 404. Malformed bodies
and ids (``{unknown}`` is a well-formed id of nothing) answer 4xx, JSON
in every case, never 5xx.
"""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts import tokens, verification
from accounts.commands import BlockAccount
from messaging import bus
from messaging.models import Delivery
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

PASSWORD = "correct-horse-battery"
REGISTRATION = {"email": "new@example.com", "username": "newcomer", "password": PASSWORD}
BOOK = {"title": "Dune", "author": "Frank Herbert", "price": "9.99"}

# method, path, body, then the status for each of CALLERS in turn
MATRIX = [
    ("get", "/api/v1/accounts/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/", REGISTRATION, 202, 202, 202, 202),
    ("post", "/api/v1/accounts/verify-email/", "the owner's verification token", 200, 200, 200, 200),
    ("post", "/api/v1/accounts/me/verification/", None, 401, 202, 202, 202),
    ("get", "/api/v1/accounts/{owner}/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/me/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/me/deactivate/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/follow/", None, 401, 409, 201, 201),
    ("post", "/api/v1/accounts/{owner}/unfollow/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/remove-follower/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/block/", None, 401, 409, 201, 201),
    ("post", "/api/v1/accounts/{owner}/unblock/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/followers/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/following/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/relationship/", None, 401, 200, 200, 200),
    ("post", "/api/v1/auth/token/", {"username": "owner", "password": PASSWORD}, 200, 200, 200, 200),
    ("get", "/api/v1/auth/tokens/", None, 401, 200, 200, 200),
    ("delete", "/api/v1/auth/tokens/{token}/", None, 401, 204, 404, 404),
    ("delete", "/api/v1/auth/tokens/", None, 401, 204, 204, 204),
    ("get", "/api/v1/books/", None, 200, 200, 200, 200),
    ("post", "/api/v1/books/", BOOK, 401, 403, 403, 201),
    ("get", "/api/v1/books/{book}/", None, 200, 200, 200, 200),
    ("post", "/api/v1/books/{book}/restock/", {"quantity": 1}, 401, 403, 403, 200),
    ("post", "/api/v1/orders/", "one copy of {book}", 401, 201, 201, 201),
    ("get", "/api/v1/orders/", None, 401, 200, 200, 200),
    ("get", "/api/v1/orders/{order}/", None, 401, 200, 404, 200),
    ("post", "/api/v1/orders/{order}/confirm/", None, 401, 403, 403, 200),
    ("post", "/api/v1/orders/{order}/ship/", None, 401, 403, 403, 409),
    ("post", "/api/v1/orders/{order}/cancel/", None, 401, 200, 404, 200),
    ("get", "/api/v1/events/", None, 401, 403, 403, 200),
    ("get", "/api/v1/deliveries/", None, 401, 403, 403, 200),
    ("get", "/api/v1/deliveries/lag/", None, 401, 403, 403, 200),
    ("get", "/api/v1/deliveries/{delivery}/", None, 401, 403, 403, 200),
    ("post", "/api/v1/deliveries/{delivery}/retry/", None, 401, 403, 403, 409),
    ("post", "/api/v1/deliveries/{delivery}/discard/", None, 401, 403, 403, 409),
    ("post", "/api/v1/deliveries/{delivery}/skip/", {"reason": "sent by hand"}, 401, 403, 403, 200),
    ("post", "/api/v1/deliveries/{delivery}/skip/", {}, 401, 403, 403, 400),
    ("post", "/api/v1/deliveries/retry/", {"policy": "accounts.x", "dry_run": True}, 401, 403, 403, 200),
    ("post", "/api/v1/deliveries/skip/", {"since": "1h", "reason": "outage"}, 401, 403, 403, 200),
    ("post", "/api/v1/deliveries/discard/", {}, 401, 403, 403, 400),
    ("get", "/api/v1/schema/", None, 200, 200, 200, 200),
    ("get", "/api/v1/docs/", None, 200, 200, 200, 200),
    # malformed bodies and ids: 4xx for everyone, in the order the API checks
    # (route, then sign-in and permission, then the body)
    ("post", "/api/v1/accounts/", b"{oops", 400, 400, 400, 400),
    ("post", "/api/v1/accounts/verify-email/", {"token": "forged"}, 400, 400, 400, 400),
    ("post", "/api/v1/accounts/verify-email/", {"token": ["x"]}, 400, 400, 400, 400),
    ("post", "/api/v1/auth/token/", b"[1, 2", 400, 400, 400, 400),
    ("post", "/api/v1/auth/token/", {"username": ["owner"], "password": 7}, 400, 400, 400, 400),
    ("get", "/api/v1/accounts/not-a-uuid/", None, 404, 404, 404, 404),
    ("post", "/api/v1/accounts/123/follow/", None, 404, 404, 404, 404),
    ("get", "/api/v1/accounts/{unknown}/", None, 401, 404, 404, 404),
    ("post", "/api/v1/accounts/{unknown}/block/", None, 401, 404, 404, 404),
    ("get", "/api/v1/accounts/{unknown}/followers/", None, 401, 404, 404, 404),
    ("post", "/api/v1/books/", {"title": "", "author": 3, "price": "free"}, 401, 403, 403, 400),
    ("post", "/api/v1/books/", b"\xff\xfe", 401, 403, 403, 400),
    ("get", "/api/v1/books/{unknown}/", None, 404, 404, 404, 404),
    ("get", "/api/v1/books/9780441013593/", None, 404, 404, 404, 404),
    ("post", "/api/v1/books/{book}/restock/", {"quantity": "many"}, 401, 403, 403, 400),
    ("post", "/api/v1/books/{unknown}/restock/", {"quantity": 1}, 401, 403, 403, 404),
    ("post", "/api/v1/orders/", {"items": "everything"}, 401, 400, 400, 400),
    ("post", "/api/v1/orders/", {"items": [{"book_id": "{unknown}", "quantity": 10**40}]}, 401, 400, 400, 400),
    ("get", "/api/v1/orders/{unknown}/", None, 401, 404, 404, 404),
    ("post", "/api/v1/orders/not-an-id/cancel/", None, 404, 404, 404, 404),
    ("post", "/api/v1/orders/{unknown}/confirm/", None, 401, 403, 403, 404),
    ("get", "/api/v1/events/", {"correlation_id": "nope"}, 401, 403, 403, 400),
    ("delete", "/api/v1/auth/tokens/{unknown}/", None, 401, 404, 404, 404),
    ("delete", "/api/v1/auth/tokens/not-a-uuid/", None, 404, 404, 404, 404),
    ("get", "/api/v1/nowhere/", None, 404, 404, 404, 404),
]
CALLERS = ["anonymous", "owner", "other", "staff"]


@pytest.mark.parametrize(
    ("method", "path", "body", "caller", "expected"),
    [
        pytest.param(method, path, body, caller, statuses[index], id=f"{method} {path} as {caller}")
        for method, path, body, *statuses in MATRIX
        for index, caller in enumerate(CALLERS)
    ],
)
def test_each_caller_gets_the_status_the_contract_gives(db, method, path, body, caller, expected):
    # given
    owner = AccountFactory(username="owner")
    callers = {"owner": owner, "other": AccountFactory(), "staff": AccountFactory(is_staff=True)}
    book = BookFactory()
    order = bus.dispatch(place(owner, (book, 1))).events[0]
    blocked = bus.dispatch(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk)).events[0]
    delivery = Delivery.objects.get(event_id=blocked.event_id)  # pending: no commit runs it in a test transaction
    client = APIClient()
    if caller != "anonymous":
        client.force_authenticate(callers[caller])
    if body == "one copy of {book}":
        body = {"items": [{"book_id": str(book.pk), "quantity": 1}]}
    if body == "the owner's verification token":  # the token is the proof: whoever sends it
        body = {"token": verification.make_token(owner)}
    names = {
        "owner": owner.pk,
        "book": book.pk,
        "order": order.order_id,
        "delivery": delivery.pk,
        "unknown": uuid.UUID(int=7),
        "token": tokens.issue(owner)[0].id,
    }
    if isinstance(body, dict) and "items" in body and isinstance(body["items"], list):
        body = {"items": [{**item, "book_id": item["book_id"].format(**names)} for item in body["items"]]}

    # when
    send = getattr(client, method)
    if isinstance(body, bytes):
        response = send(path.format(**names), body, content_type="application/json")
    else:
        response = send(path.format(**names), body, format="json" if method == "post" else None)

    # then
    assert response.status_code == expected, getattr(response, "data", response.content[:200])
    if path.startswith("/api/v1/") and path not in ("/api/v1/schema/", "/api/v1/docs/") and expected != 204:
        assert response["Content-Type"] == "application/json"
