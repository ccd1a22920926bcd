"""What a write costs in statements through the API, token authentication
included: an order runs what plain DRF's runs plus its schedule and its
events, and an ``Idempotency-Key`` adds what remembering it needs. Counted
on PostgreSQL, where the bench compares them (``bench.beside``); SQLite
writes an order and its items in two statements and has no BEGIN to count."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.factories import BookFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ORDER = 10  # BEGIN, token, held copies, inventories, one UPDATE, reservations, order+items, schedule, events, COMMIT


def _order(client, book, **headers):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/api/v1/orders/", {"items": [{"book_id": str(book.pk), "quantity": 1}]}, format="json", **headers
        )
    assert response.status_code == 201, response.data
    return [query["sql"] for query in captured]


def test_an_order_runs_at_most_10_statements_and_reads_neither_its_customer_nor_a_sum(alice, signed_in):
    client, book = signed_in(alice), BookFactory()
    _order(client, book)  # the first of an account makes its row of held copies

    statements = _order(client, book)

    assert len(statements) <= ORDER, statements
    assert not [sql for sql in statements if "SUM(" in sql or "pg_advisory" in sql]
    account_reads = [sql for sql in statements if '"accounts_account"' in sql]
    assert len(account_reads) == 1 and "accounts_apitoken" in account_reads[0], "only authentication reads it"


def test_an_idempotency_key_adds_at_most_3_statements_to_an_order(alice, signed_in):
    client, book = signed_in(alice), BookFactory()
    _order(client, book)

    statements = _order(client, book, HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)

    assert len(statements) <= ORDER + 3, statements
