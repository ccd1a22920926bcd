"""A long event log made fast, in SQL (PostgreSQL): for the trace index's
plan test and its benchmark at a million events.

Each request is a top-level command's event followed by one event a
policy's command stored in reaction (same correlation id, caused by the
first), and one delivery of the first event: done, except one in
``troubled_every`` left dead. Every id is derived from the request's
number, so the rows are the same on every run.
"""

import uuid

from django.db import connection

from messaging.models import StoredEvent

_EVENTS = """
INSERT INTO messaging_storedevent (event_id, type, version, payload, is_rejection, occurred_at, command_id,
    command_type, correlation_id, causation_id, actor_id, policy, trace_id, command_duration_ms)
SELECT md5(%(kind)s || n)::uuid, %(type)s, 1, '{}'::jsonb, false,
    timestamptz '2026-01-01' + n * interval '1 second' + %(later)s * interval '1 ms',
    md5(%(kind)s || 'c' || n)::uuid, %(command)s, md5('r' || n)::uuid,
    CASE WHEN %(caused)s THEN md5('e' || n)::uuid END, NULL, %(policy)s, '', 1.5
FROM generate_series(%(first)s, %(last)s) AS n
"""

_DELIVERIES = """
INSERT INTO messaging_delivery (event_id, policy, status, attempts, next_attempt_at, last_error, created_at,
    delivered_at, outside, duration_ms)
SELECT md5('e' || n)::uuid, 'bench.policy', CASE WHEN n %% %(every)s = 0 THEN 'dead' ELSE 'done' END, 1,
    now(), '', now(), now(), false, 2.0
FROM generate_series(%(first)s, %(last)s) AS n
"""


def fill(requests: int, *, start: int = 1, troubled_every: int = 1000, batch: int = 100_000) -> None:
    """Append the requests numbered ``start`` to ``requests`` (twice as many
    events) and their deliveries, then ``ANALYZE``."""
    with connection.cursor() as cursor:
        for first in range(start, requests + 1, batch):
            bounds = {"first": first, "last": min(first + batch - 1, requests)}
            cursor.execute(
                _EVENTS,
                {"kind": "e", "type": "BookAdded", "command": "AddBook", "caused": False, "policy": "", "later": 0}
                | bounds,
            )
            cursor.execute(
                _EVENTS,
                {
                    "kind": "p",
                    "type": "BookStocked",
                    "command": "StockNewBook",
                    "caused": True,
                    "policy": "catalog.policies.stock_new_book",
                    "later": 5,
                }
                | bounds,
            )
            cursor.execute(_DELIVERIES, {"every": troubled_every} | bounds)
        cursor.execute("ANALYZE messaging_storedevent")
        cursor.execute("ANALYZE messaging_delivery")


def bare_follows(count: int, *, occurred_at, batch_size: int | None = None) -> list:
    """``count`` ``AccountFollowed`` rows written straight to the log (no
    command ran, an empty payload): what a plan test needs of events."""
    return StoredEvent.objects.bulk_create(
        (
            StoredEvent(
                event_id=uuid.uuid4(),
                type="AccountFollowed",
                payload={},
                occurred_at=occurred_at,
                command_id=uuid.uuid4(),
                command_type="FollowAccount",
                correlation_id=uuid.uuid4(),
            )
            for _ in range(count)
        ),
        batch_size=batch_size,
    )
