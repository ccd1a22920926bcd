"""A replay is a backfill: its deliveries run in a lane of their own that
yields to live ones, at a bounded rate, so a large replay never holds up
what the shop does now (issue 27)."""

import base64
import io
import json
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.db.models.functions import Now

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountBlocked, AccountFollowed
from messaging import bus, relay, tasks
from messaging.delivery import claiming
from messaging.features import subscriptions
from messaging.models import Delivery, StoredEvent
from messaging.operations import metrics
from messaging.testing import relay as relay_events
from messaging.testing import subscribed
from tests.support.factories import AccountFactory
from tests.support.redis_server import publishing_to, throwaway_redis

pytestmark = pytest.mark.django_db

REPLAYED, LIVE, MAILED = "tests.replayed", "tests.live", "tests.mailed"


def a_history(follows: int):
    """One account's follows stored with every delivery of theirs settled,
    none to ``REPLAYED`` (new, as far as they know): the past a replay
    reads. The follower."""
    people = [AccountFactory() for _ in range(follows + 1)]
    for other in people[1:]:
        bus.dispatch(FollowAccount(follower_id=people[0].pk, followee_id=other.pk))
    Delivery.objects.filter(policy=REPLAYED).delete()
    Delivery.objects.update(status=Delivery.Status.DONE)
    return people[0]


def something_live():
    """A command of now, whose delivery to ``LIVE`` waits for a relay (the
    project's own policies' settled, to keep the count simple)."""
    alice, bob = AccountFactory(), AccountFactory()
    bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    Delivery.objects.filter(lane=None).exclude(policy=LIVE).update(status=Delivery.Status.DONE)
    return Delivery.objects.filter(policy=LIVE).latest("pk")


def test_a_relay_round_delivers_live_deliveries_before_a_replay_opened_earlier(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    a_history(30)
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
    ):
        assert subscriptions.replay(REPLAYED) == 30  # opened first: older rows, due earlier
        live = something_live()

        relay.deliver_due(10, outside=False)

        live.refresh_from_db()
        assert live.status == Delivery.Status.DONE


def a_replay(follows: int) -> None:
    """A history of ``follows`` follows, then ``REPLAYED`` replayed over it (subscribed by the caller)."""
    a_history(follows)
    assert subscriptions.replay(REPLAYED) == follows


def lanes_of(claim) -> tuple[int, int]:
    """How many live and backfill rows a claim took."""
    return len(claim.live), len(claim.backfill)


def test_a_claim_fills_only_the_room_live_deliveries_leave_with_backfill(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = None
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
    ):
        a_replay(12)
        live = [something_live().pk for _ in range(3)]
        Delivery.objects.filter(policy=LIVE).update(next_attempt_at=Now() - timedelta(minutes=5))  # older than all

        claim = claiming.claim_due(5)

        assert claim.live == live  # all of them, first, though opened last
        assert lanes_of(claim) == (3, 2)
        assert set(Delivery.objects.filter(pk__in=claim.backfill).values_list("policy", flat=True)) == {REPLAYED}
        assert lanes_of(claiming.claim_due(100)) == (0, 10)


def test_backfill_is_claimed_at_most_at_its_rate_every_claim_together_and_live_ones_at_once(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 5
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
    ):
        a_replay(30)

        assert lanes_of(claiming.claim_due(100)) == (0, 5)  # a second's worth, the lane being idle
        assert lanes_of(claiming.claim_due(100, outside=False)) == (0, 0)  # the next second's is taken
        something_live(), something_live()
        assert lanes_of(claiming.claim_due(100)) == (2, 0)  # live rows never wait on the pace
        time.sleep(1.0)
        assert lanes_of(claiming.claim_due(100)) == (0, 5)
        assert Delivery.objects.filter(policy=REPLAYED, lease=None).count() == 20


def test_a_one_shot_relay_delivers_a_whole_replay_at_its_pace(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 40
    handled = []
    with subscribed(AccountFollowed, handled.append, name=REPLAYED):
        a_replay(60)
        started = time.monotonic()

        relay_events()

        assert len(handled) == 60
        assert time.monotonic() - started >= 0.4  # 40 at once (the idle lane's second), 20 more at 40/s
    assert not Delivery.objects.filter(status__in=Delivery.OPEN).exists()


@pytest.mark.parametrize("rate", [0.95, 0.47, 0.18])
def test_a_backfill_slower_than_one_a_second_still_moves(settings, rate):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = rate
    with subscribed(AccountFollowed, lambda event: None, name=REPLAYED):
        a_replay(3)

        taken = claiming.claim_due(100).backfill

    assert len(taken) == 1  # the idle lane's first row; the next one a 1/rate seconds later


@pytest.mark.parametrize("rate", ["fast", -1, float("inf"), float("nan")])
def test_a_rate_that_is_no_number_of_deliveries_a_second_is_refused_at_start_and_stops_no_live_delivery(settings, rate):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = rate
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
    ):
        a_replay(3)
        live = something_live()

        claim = claiming.claim_due(10)
        errors = [error for error in run_checks() if error.id == "messaging.E001"]

    assert lanes_of(claim) == (1, 0) and claim.live == [live.pk]  # the backfill waits, live goes on
    assert len(errors) == 1 and "MESSAGING_BACKFILL_PER_SECOND is backfill deliveries a second" in errors[0].msg


def test_a_rate_of_0_pauses_the_backfill_and_a_one_shot_relay_leaves_it(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 0
    handled = []
    with subscribed(AccountFollowed, handled.append, name=REPLAYED):
        a_replay(5)

        relay_events()  # returns: nothing it may claim, nothing worth waiting for

    assert handled == [] and not run_checks()
    assert Delivery.objects.filter(policy=REPLAYED, status=Delivery.Status.PENDING).count() == 5


def test_the_mail_backfill_keeps_its_own_pace_beside_the_database_one(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 20
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountFollowed, lambda event: None, name=MAILED, outside=True),
    ):
        a_history(60)
        Delivery.objects.filter(policy=MAILED).delete()  # new, as far as the mail policy knows
        assert subscriptions.replay(REPLAYED) == 60
        assert subscriptions.replay(MAILED, force=True) == 60

        database = claiming.claim_due(200, outside=False)  # relay_events' round: the database's first
        outside = claiming.claim_due(200, outside=True)

    assert lanes_of(database) == (0, 20) and lanes_of(outside) == (0, 20)


def test_lag_shows_the_backfill_lane_apart_and_a_replay_makes_no_node_unready(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
    ):
        a_replay(4)
        something_live()
        out = io.StringIO()

        call_command("deliveries", "lag", stdout=out)
        figures = {(row.policy, row.lane): row.waiting for row in metrics.lag()}
        backlog = metrics.backlog()

    assert figures == {(LIVE, "database"): 1, (REPLAYED, "backfill"): 4}
    assert f"{REPLAYED} backfill" in " ".join(out.getvalue().split())
    assert (backlog.due, backlog.backfill, backlog.pending) == (1, 4, 5)  # readiness reads the live lane's


def test_replay_opens_in_the_backfill_lane_unless_told_live():
    with subscribed(AccountFollowed, lambda event: None, name=REPLAYED):
        a_history(3)
        out = io.StringIO()
        call_command("replay", REPLAYED, stdout=out, stderr=io.StringIO())
        assert "in the backfill lane" in out.getvalue()
        assert set(Delivery.objects.filter(policy=REPLAYED).values_list("lane", flat=True)) == {"backfill"}

        Delivery.objects.filter(policy=REPLAYED).delete()
        call_command("replay", REPLAYED, "--live", stdout=out, stderr=io.StringIO())
        assert set(Delivery.objects.filter(policy=REPLAYED).values_list("lane", flat=True)) == {None}


def queued(server_url: str, queue: str) -> list[int]:
    """The delivery ids the messages waiting on ``queue`` name, read from the broker itself."""
    messages = redis.Redis.from_url(server_url).lrange(queue, 0, -1)
    return sorted(pk for raw in messages for pk in json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0])


def test_the_celery_sweep_queues_live_deliveries_apart_from_a_paced_backfill(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 0.5
    settings.MESSAGING_SWEEP_SECONDS = 12  # the sweep queues twelve seconds' worth of backfill a run
    with (
        subscribed(AccountFollowed, lambda event: None, name=REPLAYED),
        subscribed(AccountBlocked, lambda event: None, name=LIVE),
        throwaway_redis() as broker,
        publishing_to(broker.url),
    ):
        a_replay(20)
        live = something_live()  # its message lost, say: left to the sweep

        assert tasks.sweep() == 7

        backfill = list(Delivery.objects.filter(lane="backfill").order_by("pk").values_list("pk", flat=True))
        assert queued(broker.url, "database") == [live.pk]
        assert queued(broker.url, tasks.BACKFILL_QUEUE) == backfill[:6]
        assert tasks.sweep() == 0  # the pace: the next row in two seconds


def test_the_celery_sweep_queues_a_mail_backfill_for_the_mail_workers_never_the_database_ones(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = None
    with (
        subscribed(AccountFollowed, lambda event: None, name=MAILED, outside=True),
        throwaway_redis() as broker,
        publishing_to(broker.url),
    ):
        a_history(3)
        Delivery.objects.filter(policy=MAILED).delete()
        assert subscriptions.replay(MAILED, force=True) == 3

        assert tasks.sweep() == 3

        mailed = sorted(Delivery.objects.filter(policy=MAILED).values_list("pk", flat=True))
        assert queued(broker.url, tasks.OUTSIDE_BACKFILL_QUEUE) == mailed  # a slow mail server holds no database worker
        assert queued(broker.url, tasks.BACKFILL_QUEUE) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_relay_workers_claiming_at_once_keep_one_pace_together_and_never_share_a_row(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 20
    seconds, claimed, failures = 1.5, [], []

    def worker():
        try:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                claimed.append(claiming.claim_due(50))
        except Exception as error:  # the assertion below shows it
            failures.append(error)
        finally:
            connection.close()

    with subscribed(AccountFollowed, lambda event: None, name=REPLAYED):
        a_replay(200)
        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

    taken = [pk for claim in claimed for pk in claim.backfill]
    assert not failures
    assert len(taken) == len(set(taken))  # no row in two claims
    assert 20 <= len(taken) <= 20 * (elapsed + 1)  # the idle lane's second at once, then 20 a second


def test_a_replay_of_an_ordered_policy_keeps_each_key_in_event_order(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = None
    handled = []
    with subscribed(
        AccountFollowed,
        lambda event: handled.append(event.followee_id),
        name=REPLAYED,
        ordered_by=lambda e: e.follower_id,
    ):
        follower = a_history(6)
        assert subscriptions.replay(REPLAYED) == 6
        keys = set(Delivery.objects.filter(policy=REPLAYED).values_list("ordering_key", flat=True))

        first = claiming.claim_due(100)
        relay.deliver_claimed(first)
        relay_events()

    in_the_log = [
        event.payload["followee_id"]
        for event in StoredEvent.objects.filter(type=AccountFollowed.type_name()).order_by("position")
    ]
    assert keys == {str(follower.pk)}  # one follower: one key, as a live delivery of the same event would carry
    assert len(first.ids) == 1  # the rest are held behind the first of their key
    assert [str(followee) for followee in handled] == in_the_log


def test_a_replayed_older_event_runs_before_a_live_newer_one_of_its_key(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    handled = []
    follower = AccountFactory()
    earlier = AccountFactory()
    bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=earlier.pk))  # before the policy existed
    with subscribed(
        AccountFollowed, lambda event: handled.append(event.followee_id), name=REPLAYED, ordered_by=follower_key
    ):
        newer = AccountFactory()
        bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=newer.pk))  # its row opened first
        assert subscriptions.replay(REPLAYED) == 1

        relay_events()

    assert handled == [earlier.pk, newer.pk]  # the order of the events, not of the rows


def test_an_ordered_policy_replays_in_the_live_lane_so_no_live_delivery_of_its_key_waits_on_the_pace(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_BACKFILL_PER_SECOND = 0  # the backfill paused: a row in its lane would wait for ever
    handled = []
    with subscribed(
        AccountFollowed, lambda event: handled.append(event.followee_id), name=REPLAYED, ordered_by=follower_key
    ):
        follower = a_history(4)
        assert subscriptions.replay(REPLAYED) == 4
        newest = AccountFactory()
        bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=newest.pk))

        relay_events()

    assert set(Delivery.objects.filter(policy=REPLAYED).values_list("lane", flat=True)) == {None}
    assert len(handled) == 5 and handled[-1] == newest.pk
    assert not Delivery.objects.filter(policy=REPLAYED, status__in=Delivery.OPEN).exists()


def follower_key(event: AccountFollowed):
    """An ordering key: each follower's follows in the order they happened."""
    return event.follower_id
