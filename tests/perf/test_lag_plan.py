"""The lag per policy and lane stays cheap however many done rows retention
keeps: on PostgreSQL, with a month of done deliveries and a few done in the
last minutes, the throughput count reads the recent ones through the
partial ``delivery_done_at`` index, never every done row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Delivery
from messaging.operations import metrics
from tests.support.event_log import bare_follows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

EVENTS, POLICIES = 400, 50  # 20,000 done rows


def seed():
    now = timezone.now()
    events = bare_follows(EVENTS, occurred_at=now)
    month = timedelta(days=30).total_seconds()
    Delivery.objects.bulk_create(
        (
            Delivery(
                event_id=event.event_id,
                policy=f"bench.policy_{p}",
                status=Delivery.Status.DONE,
                delivered_at=now - timedelta(seconds=(n * POLICIES + p) * month / (EVENTS * POLICIES) + 600),
            )
            for n, event in enumerate(events)
            for p in range(POLICIES)
        ),
        batch_size=5000,
    )
    recent = bare_follows(30, occurred_at=now)
    Delivery.objects.bulk_create(
        Delivery(event_id=event.event_id, policy="bench.policy_0", status=Delivery.Status.DONE, delivered_at=now)
        for event in recent
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def test_the_throughput_count_reads_only_the_recent_done_rows_through_its_index():
    # given
    seed()

    # when
    with CaptureQueriesContext(connection) as captured:
        figures = metrics.lag()
    (done_query,) = [query["sql"] for query in captured.captured_queries if "delivered_at" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {done_query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # then
    assert [(row.policy, row.done_recently) for row in figures] == [("bench.policy_0", 30)]
    assert "delivery_done_at" in plan, plan
    assert "Seq Scan on messaging_delivery" not in plan, plan
