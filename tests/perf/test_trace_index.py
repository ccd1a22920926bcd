"""The trace index (the latest requests, and those with a failed or dead
delivery) reads a bounded number of rows whatever the length of the log:
on PostgreSQL, with 20,000 requests (40,000 events) and fresh statistics,
the plans of its queries, run (``EXPLAIN ANALYZE``), read a few hundred
rows of the event log and the deliveries, not the whole log. The figure at
a million events is in docs/performance.md (``bench/trace_index.py``)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.operations.log import recent_requests
from tests.support import event_log

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

REQUESTS = 20_000
PAGE = 20
BOUND = 1_000  # rows of the two big tables, all queries of one listing together
TABLES = ("messaging_storedevent", "messaging_delivery")


def rows_read(read) -> tuple[int, str]:
    """How many rows of the big tables ``read``'s queries read, their plans run; and the plans."""
    with CaptureQueriesContext(connection) as captured:
        read()
    total, plans = 0, []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            found = cursor.fetchone()[0]
            (plan,) = json.loads(found) if isinstance(found, str) else found
            total += _read(plan["Plan"])
            plans.append(query["sql"] + "\n" + json.dumps(plan["Plan"], indent=1)[:4000])
    return total, "\n\n".join(plans)


def _read(node: dict) -> int:
    """Rows the scans under ``node`` took from the big tables (filtered-out rows included)."""
    own = 0
    if node.get("Relation Name") in TABLES:
        loops = node.get("Actual Loops", 1)
        own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
    return own + sum(_read(child) for child in node.get("Plans", ()))


@pytest.fixture
def long_log():
    event_log.fill(REQUESTS, troubled_every=1000)


@pytest.mark.parametrize("troubled", [False, True], ids=["latest", "troubled"])
def test_the_trace_index_reads_a_bounded_number_of_rows(long_log, troubled):
    # when
    listed, (read, plans) = (
        recent_requests(PAGE, troubled=troubled),
        rows_read(lambda: recent_requests(PAGE, troubled=troubled)),
    )

    # then: the newest first, and no scan of the whole log
    assert len(listed) == PAGE
    if troubled:
        assert all(item["dead"] == 1 for item in listed)
    assert [item["first"] for item in listed] == sorted((item["first"] for item in listed), reverse=True)
    assert read <= BOUND, f"{read} rows read:\n{plans}"
