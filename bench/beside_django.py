"""The in-process half of ``bench.beside``, run under either side's settings:

    python -m bench.beside_django seed '<json>'    # product settings: accounts, tokens, books
    python -m bench.beside_django count '<json>'   # either side: statements per request kind
    python -m bench.beside_django depth '<json>'   # product settings: a follow at 4,999 follows / at 0

``count`` sends each kind of request through Django's test client, in
process, and counts the statements each runs (``CaptureQueriesContext``);
the same requests, the same database, for both sides. Prints one JSON line.
"""

import json
import os
import statistics
import sys
import uuid
from decimal import Decimal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def seed(size: dict) -> dict:
    """``users`` accounts with a token each (they send the requests),
    ``targets`` accounts more to follow, and ``books`` books well stocked; all
    through the product's bus, as its users would make them."""
    from django.contrib.auth.hashers import make_password

    from accounts import tokens
    from accounts.commands import RegisterSeededAccount
    from accounts.models import Account
    from accounts.values import Email, PasswordHash, Username
    from catalog.commands import AddBook, RestockBook
    from catalog.values import Money
    from messaging import bus

    password = PasswordHash(make_password("bench-password-1"))
    tag = uuid.uuid4().hex[:6]

    def register(name: str):
        command = RegisterSeededAccount(
            email=Email(f"{name}@example.com"), username=Username(name), password_hash=password
        )
        return bus.dispatch(command).events[0].account_id

    users = []
    for n in range(size["users"]):
        account_id = register(f"u{n}_{tag}")
        _, token = tokens.issue(Account.objects.get(pk=account_id))
        users.append({"id": str(account_id), "token": token})
    targets = [str(register(f"t{n}_{tag}")) for n in range(size["targets"])]
    books = []
    for n in range(size["books"]):
        book_id = (
            bus.dispatch(AddBook(title=f"Beside book {n}", author="Bench", price=Money(Decimal("9.99"))))
            .events[0]
            .book_id
        )
        for _ in range(10):  # 100,000 copies, 10,000 at a time (the most a restock adds)
            assert not bus.dispatch(RestockBook(book_id=book_id, quantity=10_000)).rejection
        books.append(str(book_id))
    return {"users": users, "targets": targets, "books": books}


def count(plan: dict) -> dict[str, float]:
    """Statements per request of each kind (``plan["requests"]``: kind ->
    list of [method, path, body, token, key or null]), the mean over its
    requests; every answer must be a success."""
    client = Client()
    found = {}
    for kind, requests in plan["requests"].items():
        statements = 0
        for method, path, body, token, key in requests:
            headers = {"Authorization": f"Token {token}"}
            if key:
                headers["Idempotency-Key"] = key
            with CaptureQueriesContext(connection) as queries:
                if method == "GET":
                    response = client.get(path, headers=headers)
                else:
                    response = client.post(path, json.dumps(body), content_type="application/json", headers=headers)
            assert response.status_code in (200, 201), (kind, response.status_code, response.content[:300])
            statements += len(queries)
        found[kind] = statements / len(requests)
    return found


def depth(size: dict) -> dict:
    """A follow by an account that follows 4,999 others beside one by an
    account that follows none, through the bus, alternating, each undone
    (unfollowed, untimed) after: the median seconds of each and their ratio."""
    import time

    from accounts.commands import FollowAccount, UnfollowAccount
    from accounts.models import Account, AccountStats, Follow
    from accounts.projections import recount
    from messaging import bus

    # The two followers through the bus; the accounts they follow written in bulk (as seed_demo --bulk does).
    light, heavy = (uuid.UUID(account) for account in seed({"users": 0, "targets": 2, "books": 0})["targets"])
    tag = uuid.uuid4().hex[:6]
    others = [uuid.uuid4() for _ in range(size["follows"] + size["samples"])]
    Account.objects.bulk_create(
        Account(id=pk, username=f"d{n}_{tag}", email=f"d{n}_{tag}@example.com", password="!")
        for n, pk in enumerate(others)
    )
    AccountStats.objects.bulk_create(AccountStats(account_id=pk) for pk in others)
    Follow.objects.bulk_create(Follow(follower_id=heavy, followee_id=other) for other in others[: size["follows"]])
    recount([heavy, *others[: size["follows"]]])
    free = others[size["follows"] :]
    times = {light: [], heavy: []}
    for n in range(size["samples"]):
        for follower in (light, heavy) if n % 2 == 0 else (heavy, light):
            followee = free[n % len(free)]
            started = time.perf_counter()
            result = bus.dispatch(FollowAccount(follower_id=follower, followee_id=followee, actor_id=follower))
            times[follower].append(time.perf_counter() - started)
            assert result.ok and result.events, result
            bus.dispatch(UnfollowAccount(follower_id=follower, followee_id=followee, actor_id=follower))
    at_0, at_full = (statistics.median(times[account]) * 1000 for account in (light, heavy))
    return {"follows": size["follows"], "at_0_ms": at_0, "at_full_ms": at_full, "ratio": at_full / at_0}


if __name__ == "__main__":
    what, argument = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"seed": seed, "count": count, "depth": depth}[what](argument)))
