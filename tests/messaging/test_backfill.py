"""A replay is a backfill: its deliveries run in a lane of their own that
yields to live ones, at a bounded rate, so a large replay never holds up
what the shop does now (issue 27)."""

import pytest

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountBlocked, AccountFollowed
from messaging import bus, relay
from messaging.features import subscriptions
from messaging.models import Delivery
from messaging.testing import subscribed
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db

REPLAYED, LIVE = "tests.replayed", "tests.live"


def a_history(follows: int) -> None:
    """Follows stored with every delivery of theirs settled: the past a replay reads."""
    people = [AccountFactory() for _ in range(follows + 1)]
    for other in people[1:]:
        bus.dispatch(FollowAccount(follower_id=people[0].pk, followee_id=other.pk))
    Delivery.objects.update(status=Delivery.Status.DONE)


def something_live():
    """A command of now, whose delivery to ``LIVE`` waits for a relay."""
    alice, bob = AccountFactory(), AccountFactory()
    bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    return Delivery.objects.get(policy=LIVE)


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
