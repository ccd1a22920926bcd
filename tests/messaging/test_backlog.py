"""The outbox at a glance (``metrics.backlog``) and the listing of deliveries
an operator filters (``log.deliveries``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount
from messaging import bus
from messaging.models import Delivery
from messaging.operations import log, metrics
from tests.support.dead_letters import POLICY
from tests.support.factories import AccountFactory


def follow() -> list[Delivery]:
    """A follow whose deliveries stay pending (no commit runs them in a test
    transaction: as after a crash)."""
    result = bus.dispatch(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))
    return list(Delivery.objects.filter(event_id=result.events[0].event_id))


def block() -> list[Delivery]:
    """A block whose delivery (its follows' removal) stays pending, as a follow's do."""
    result = bus.dispatch(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk))
    return list(Delivery.objects.filter(event_id=result.events[0].event_id))


def test_the_backlog_counts_open_due_and_dead_deliveries_and_the_oldest_wait(dead):
    # given: one delivery due for two minutes, one failed waiting for its retry, one dead
    waiting, *_ = follow()
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=120))
    retrying, *_ = follow()
    Delivery.objects.filter(pk=retrying.pk).update(
        status=Delivery.Status.FAILED, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).count()

    # when
    backlog = metrics.backlog()

    # then
    assert (backlog.pending, backlog.failed, backlog.dead) == (pending, 1, 1)
    assert backlog.due == pending  # the failed one is not due yet
    assert 120 <= backlog.oldest_due_seconds < 130


def test_an_empty_outbox_has_no_oldest_wait(db):
    assert metrics.backlog() == metrics.Backlog(pending=0, failed=0, dead=0, due=0, oldest_due_seconds=None)


def test_the_backlog_is_one_query_per_table(db, django_assert_num_queries):
    block()
    with django_assert_num_queries(3):  # deliveries, schedules, the sweep's time
        metrics.backlog()


def test_deliveries_are_listed_newest_first_and_filter_by_status_policy_type_and_correlation(dead):
    older, newer = follow(), follow()

    newest_first = list(log.deliveries())
    by_status = list(log.deliveries(statuses=["dead"]))
    by_policy = list(log.deliveries(policy=POLICY))
    by_type = log.deliveries(event_type="AccountFollowed").count()
    by_correlation = list(log.deliveries(correlation_id=newer[0].event.correlation_id))

    assert [row.pk for row in newest_first] == sorted((row.pk for row in newest_first), reverse=True)
    assert by_status == [dead.row]
    assert [row.pk for row in by_policy] == [row.pk for row in newest_first if row.policy == POLICY]  # 3: dead + 2 new
    assert len(by_policy) == 3
    assert by_type == len(older) + len(newer) + Delivery.objects.filter(event_id=dead.row.event_id).count()
    assert sorted(row.pk for row in by_correlation) == sorted(row.pk for row in newer)


def test_deliveries_filter_by_age(db):
    old, new = block(), block()
    Delivery.objects.filter(pk__in=[row.pk for row in old]).update(created_at=timezone.now() - timedelta(hours=3))

    assert {row.pk for row in log.deliveries(older_than=timedelta(hours=2))} == {row.pk for row in old}
    assert new


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
    ],
)
def test_an_age_is_a_number_and_a_unit(text, age):
    assert log.parse_age(text) == age


@pytest.mark.parametrize("text", ["", "30", "m", "2 weeks", "-1d", "1.5h", "3651d", "99999999999d"])
def test_anything_else_is_not_an_age(text):
    with pytest.raises(ValueError):
        log.parse_age(text)
