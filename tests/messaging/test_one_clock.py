"""One clock: every due time, retry time, lease and backlog age is the
database's, so an application host whose clock is two minutes off (either
way) changes none of them."""

from datetime import timedelta

import pytest
from django.db.models.functions import Now

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountFollowed
from messaging import bus
from messaging.conf import conf
from messaging.delivery import claiming
from messaging.models import Delivery, ScheduledCommand
from messaging.operations import metrics
from messaging.registry import registry
from messaging.testing import relay, subscribed
from orders.commands import ExpireOrder
from tests.support.clock import database_now, skewed
from tests.support.dead_letters import POLICY, OutsideService
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("skew", [-120, 120], ids=["behind", "ahead"])]

CLOSE = timedelta(seconds=5)  # what a slow test machine may take between two reads of the clock


def follow():
    """A follow; its deliveries stay pending (no commit runs them in a test transaction)."""
    return bus.dispatch(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))


def block():
    """A block, whose delivery (its follows' removal) stays pending, as a follow's do."""
    return bus.dispatch(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk))


def test_a_failed_delivery_waits_its_backoff_by_the_database_clock(skew, scenario, monkeypatch):
    # given: a policy whose service is down, on an application host two minutes off
    with subscribed(AccountFollowed, OutsideService(), name=POLICY), skewed(monkeypatch, skew):
        # when: its first attempt fails right after the commit
        scenario.when(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))
        now = database_now()

    # then: it is retried after the backoff, counted from the database's now
    row = Delivery.objects.get(policy=POLICY)
    assert (row.status, row.attempts) == (Delivery.Status.FAILED, 1)
    assert abs(row.next_attempt_at - (now + timedelta(seconds=conf.MESSAGING_RETRY_BASE_SECONDS))) < CLOSE


def test_a_relay_s_failed_attempt_waits_its_backoff_by_the_database_clock(skew, monkeypatch):
    # given: a delivery left pending (as after a crash), its service down
    with subscribed(AccountFollowed, OutsideService(), name=POLICY), skewed(monkeypatch, skew):
        follow()

        # when: a relay on a skewed host attempts it
        relay()
        now = database_now()

    # then
    row = Delivery.objects.get(policy=POLICY)
    assert (row.status, row.attempts) == (Delivery.Status.FAILED, 1)
    assert abs(row.next_attempt_at - (now + timedelta(seconds=conf.MESSAGING_RETRY_BASE_SECONDS))) < CLOSE


def test_a_delivery_opened_by_a_skewed_host_is_due_at_once_and_leased_by_the_database_clock(skew, monkeypatch):
    # given: a command's deliveries opened on a skewed host
    with skewed(monkeypatch, skew):
        result = block()
        opened = set(Delivery.objects.filter(event_id=result.events[0].event_id).values_list("pk", flat=True))

        # when: a worker (on the same host) claims what is due
        claim = claiming.claim_due(100)
        now = database_now()

    # then: they were due at once, and leased for the lease's length from the database's now
    assert opened and opened <= set(claim.ids)
    for row in Delivery.objects.filter(pk__in=opened):
        assert abs(row.next_attempt_at - (now + timedelta(seconds=conf.MESSAGING_LEASE_SECONDS))) < CLOSE


def test_an_order_s_deadline_is_counted_from_the_database_clock(skew, settings, scenario, monkeypatch):
    # given
    settings.ORDER_CONFIRM_TIMEOUT = 600

    # when: an order is placed through a skewed host
    with skewed(monkeypatch, skew):
        scenario.given(place(AccountFactory(), (BookFactory(inventory__on_hand=2), 1)))
        now = database_now()

    # then: its expiry waits the timeout from the database's now
    schedule = ScheduledCommand.objects.get()
    assert abs(schedule.not_before - (now + timedelta(seconds=600))) < CLOSE


def test_a_failed_schedule_waits_its_backoff_by_the_database_clock(skew, settings, scenario, monkeypatch):
    # given: an order's expiry due, its handler broken
    settings.ORDER_CONFIRM_TIMEOUT = 600
    scenario.given(place(AccountFactory(), (BookFactory(inventory__on_hand=2), 1)))
    ScheduledCommand.objects.update(not_before=Now() - timedelta(seconds=1))

    def broken(command):
        raise RuntimeError("the shop is closed")

    monkeypatch.setitem(registry.handlers, ExpireOrder, broken)

    # when: a skewed relay dispatches it
    with skewed(monkeypatch, skew):
        relay()
        now = database_now()

    # then
    schedule = ScheduledCommand.objects.get()
    assert (schedule.status, schedule.attempts) == (ScheduledCommand.Status.WAITING, 1)
    assert abs(schedule.not_before - (now + timedelta(seconds=conf.MESSAGING_RETRY_BASE_SECONDS))) < CLOSE


def test_the_backlog_s_age_is_measured_by_the_database_clock(skew, monkeypatch):
    # given: deliveries due for a minute by the database's clock
    block()
    Delivery.objects.update(next_attempt_at=Now() - timedelta(seconds=60))
    opened = Delivery.objects.count()

    # when: a skewed host reads the backlog
    with skewed(monkeypatch, skew):
        backlog = metrics.backlog()

    # then
    assert backlog.due == opened
    assert 60 <= backlog.oldest_due_seconds < 65
