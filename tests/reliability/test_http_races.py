"""Races through the REST API against a live server, several threads at once."""

import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from accounts.models import Account, Block, Follow
from catalog.queries import book as book_view
from orders.models import Order
from tests.support.factories import AccountFactory, BookFactory, api_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Api:
    """A JSON client signed in with a token; each request on its own connection,
    so that threads can share a client."""

    def __init__(self, live_server, token=None):
        self.netloc = urlsplit(live_server.url).netloc
        self.token = token

    def post(self, path, body=None, **headers):
        headers = {"Content-Type": "application/json", **headers}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        # The live server's listen queue is short: with 50 connections at once one may
        # be reset. A request with an Idempotency-Key is sent again, as a client would:
        # the key makes it safe whether or not the first reached the shop.
        for attempt in range(3):
            connection = http.client.HTTPConnection(self.netloc, timeout=60)
            try:
                connection.request("POST", f"/api/v1/{path}", body=json.dumps(body or {}), headers=headers)
                response = connection.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except ConnectionResetError:
                if "Idempotency-Key" not in headers or attempt == 2:
                    raise
            finally:
                connection.close()


def token_for(account) -> str:
    return api_token(account)


def all_at_once(calls):
    """Run every call in its own thread, all released together; their answers in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_fifty_single_copy_orders_against_ten_in_stock_sell_exactly_ten(live_server):
    book = BookFactory(inventory__on_hand=10)
    customers = [Api(live_server, token_for(AccountFactory())) for _ in range(50)]

    answers = all_at_once(
        [
            lambda c=c: c.post(
                "orders/",
                {"items": [{"book_id": str(book.pk), "quantity": 1}]},
                **{"Idempotency-Key": str(uuid.uuid4())},
            )
            for c in customers
        ]
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses.count(201) == 10
    assert statuses.count(409) == 40
    assert {body["code"] for status, body in answers if status == 409} == {"insufficient_stock"}
    view = book_view(book.pk)
    assert (view.on_hand, view.reserved, Order.objects.count()) == (10, 10, 10)


def test_twenty_signups_with_case_variants_of_one_email_make_one_account(live_server, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": None, "registration": None},
    }
    variants = [
        "Same.Person@Example.com",
        "same.person@example.com",
        "SAME.PERSON@EXAMPLE.COM",
        "same.Person@example.COM",
    ]

    answers = all_at_once(
        [
            lambda i=i: Api(live_server).post(
                "accounts/", {"email": variants[i % 4], "username": f"person_{i}", "password": "a long enough secret"}
            )
            for i in range(20)
        ]
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 20  # a taken e-mail answers as a new one: nobody learns who won
    assert Account.objects.count() == 1


def test_follows_racing_a_block_never_survive_it_and_no_conflict_reaches_a_client(live_server):
    rounds = 1000
    alice, bob = AccountFactory(), AccountFactory()
    as_alice, as_bob = Api(live_server, token_for(alice)), Api(live_server, token_for(bob))
    statuses = set()
    for _ in range(rounds):
        answers = all_at_once(
            [
                lambda: as_alice.post(f"accounts/{bob.pk}/follow/"),
                lambda: as_bob.post(f"accounts/{alice.pk}/follow/"),
                lambda: as_alice.post(f"accounts/{bob.pk}/block/"),
            ]
        )
        statuses |= {status for status, _ in answers}
        assert not Follow.objects.exists()
        assert Block.objects.filter(blocker=alice, blocked=bob).exists()
        Block.objects.all().delete()

    assert statuses <= {200, 201, 409}


def test_ten_simultaneous_requests_with_one_idempotency_key_have_one_effect(live_server):
    book = BookFactory(inventory__on_hand=50)
    token = token_for(AccountFactory())
    key = str(uuid.uuid4())
    clients = [Api(live_server, token) for _ in range(10)]

    answers = all_at_once(
        [
            lambda c=c: c.post(
                "orders/", {"items": [{"book_id": str(book.pk), "quantity": 2}]}, **{"Idempotency-Key": key}
            )
            for c in clients
        ]
    )

    assert Order.objects.count() == 1
    assert book_view(book.pk).reserved == 2
    assert {status for status, _ in answers} <= {201, 409}
    assert {body["id"] for status, body in answers if status == 201} == {str(Order.objects.get().pk)}
