"""Lag per policy and lane (``metrics.lag``): rows waiting, the oldest due
age, rows held by their ordering key, and throughput."""

from messaging.operations import metrics
from tests.support.lag import IN_DATABASE, OUTSIDE


def test_lag_is_counted_per_policy_and_lane(lagging):
    by_policy = {(row.policy, row.lane): row for row in metrics.lag()}

    assert set(by_policy) == {(IN_DATABASE, "database"), (OUTSIDE, "outside")}
    database = by_policy[IN_DATABASE, "database"]
    assert (database.waiting, database.failed, database.due, database.held) == (2, 1, 1, 0)
    assert 120 <= database.oldest_due_seconds < 130  # the failed one is not due yet
    assert (database.done_recently, database.per_minute) == (1, 0.2)
    outside = by_policy[OUTSIDE, "outside"]
    assert (outside.waiting, outside.failed, outside.due, outside.held) == (2, 0, 2, 1)
    assert 0 <= outside.oldest_due_seconds < 10
    assert (outside.done_recently, outside.per_minute) == (1, 0.2)


def test_rows_are_ordered_by_policy_then_lane(lagging):
    assert [row.policy for row in metrics.lag()] == sorted([IN_DATABASE, OUTSIDE])


def test_nothing_waiting_or_done_lately_shows_no_row(db):
    assert metrics.lag() == []


def test_lag_is_two_aggregate_queries(lagging, django_assert_num_queries):
    with django_assert_num_queries(2):  # the open rows, the rows done in the window
        metrics.lag()
