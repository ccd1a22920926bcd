"""Two policies behind, the way production leaves them: a database one with
a delivery due for two minutes, one failed waiting for its retry and one
done; an outside one (mail) with one done and two waiting, the later held
back by the earlier of its ordering key."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus
from messaging.models import Delivery
from messaging.testing import subscribed
from tests.support.factories import AccountFactory

IN_DATABASE = "tests.lag.count_follow"
OUTSIDE = "tests.lag.mail_followee"


@dataclass
class Lagging:
    due: Delivery
    failed: Delivery


def two_policies_behind():
    """A generator for a fixture: the two policies stay subscribed until the
    test ends. Three follows, whose deliveries stay open (no commit runs
    them in a test transaction), then set as described above."""
    with (
        subscribed(AccountFollowed, lambda event: None, name=IN_DATABASE),
        subscribed(AccountFollowed, lambda event: None, name=OUTSIDE, outside=True),
    ):
        for _ in range(3):
            bus.dispatch(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))
        now = timezone.now()
        due, failed, done = Delivery.objects.filter(policy=IN_DATABASE).order_by("pk")
        Delivery.objects.filter(pk=due.pk).update(next_attempt_at=now - timedelta(seconds=120))
        Delivery.objects.filter(pk=failed.pk).update(
            status=Delivery.Status.FAILED, attempts=1, next_attempt_at=now + timedelta(minutes=5)
        )
        sent, first, second = Delivery.objects.filter(policy=OUTSIDE).order_by("pk")
        Delivery.objects.filter(pk__in=[done.pk, sent.pk]).update(
            status=Delivery.Status.DONE, attempts=1, delivered_at=now - timedelta(minutes=1)
        )
        Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(ordering_key="order-1")
        yield Lagging(due=due, failed=failed)
