"""The live claim stays an index scan of the live lane behind a large
backfill: on PostgreSQL, with a replay's 50,000 deliveries due (older than
every live one) and fresh statistics, each lane's claim reads its own
partial index in claim order and stops at its limit; neither reads the
other lane's rows, nor sorts the due rows."""

import re

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.events import AccountFollowed
from messaging.delivery import claiming
from messaging.delivery.lanes import BACKFILL
from messaging.models import Delivery
from messaging.testing import subscribed
from tests.support.event_log import bare_follows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BACKLOG, LIVE = 50_000, 30


def seed() -> None:
    """A replay's ``BACKLOG`` deliveries due since an hour, ``LIVE`` live ones due now, ``ANALYZE``."""
    an_hour_ago = timezone.now() - timezone.timedelta(hours=1)
    events = bare_follows(BACKLOG + LIVE, occurred_at=an_hour_ago, batch_size=5000)
    Delivery.objects.bulk_create(
        (
            Delivery(event_id=event.event_id, policy="tests.replayed", lane=BACKFILL, next_attempt_at=an_hour_ago)
            for event in events[:BACKLOG]
        ),
        batch_size=5000,
    )
    Delivery.objects.bulk_create(Delivery(event_id=event.event_id, policy="tests.live") for event in events[BACKLOG:])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_delivery")


def plan(claim) -> str:
    """``EXPLAIN (ANALYZE)`` of the one query ``claim`` runs."""
    with CaptureQueriesContext(connection) as captured:
        claim()
    [query] = captured.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
        return "\n".join(row[0] for row in cursor.fetchall())


def rows_read(found: str, index: str) -> int:
    return int(re.search(rf"Index Scan using {index} on messaging_delivery .*\(actual .* rows=(\d+)", found).group(1))


def test_each_lane_claims_through_its_own_partial_index_behind_a_large_backfill():
    with (
        subscribed(AccountFollowed, lambda event: None, name="tests.replayed"),
        subscribed(AccountFollowed, lambda event: None, name="tests.live"),
    ):
        seed()

        live = plan(lambda: list(claiming.due(Now(), 200)))
        backfill = plan(lambda: list(claiming.due(Now(), 200, lane=BACKFILL)))

    assert "Index Scan using delivery_live_due" in live, live
    assert rows_read(live, "delivery_live_due") == LIVE, live  # the live rows, none of the backlog
    assert "Index Scan using delivery_backfill_due" in backfill, backfill
    assert rows_read(backfill, "delivery_backfill_due") == 200, backfill  # stops at the limit, oldest first
    for found in (live, backfill):
        assert "Seq Scan on messaging_delivery" not in found and "Sort" not in found, found
