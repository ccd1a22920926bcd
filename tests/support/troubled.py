"""Deliveries of one policy in every state an operator acts on, the way an
outage leaves them: opened at different times, one pending, one failed
waiting for its retry, one dead-lettered, one done; and one dead letter
opened three hours ago (outside a window of the last two hours)."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus
from messaging.models import Delivery, StoredEvent
from messaging.testing import subscribed
from tests.support.factories import AccountFactory

POLICY = "tests.ops.notify_followee"


@dataclass
class Troubled:
    pending: Delivery
    failed: Delivery
    dead: Delivery
    done: Delivery
    old_dead: Delivery
    ran: list

    def fresh(self, name: str) -> Delivery:
        return Delivery.objects.get(pk=getattr(self, name).pk)

    @staticmethod
    def recorded(event_type: str) -> list[StoredEvent]:
        """The events recording operators' operations of one type, in order."""
        return list(StoredEvent.objects.filter(type=event_type).order_by("position"))


def troubled_deliveries():
    """A generator for a fixture: the policy stays subscribed (a retry needs
    it) until the test ends. Five follows, whose deliveries stay open (no
    commit runs them in a test transaction), then set as described above."""
    ran = []
    with subscribed(AccountFollowed, lambda event: ran.append(event.event_id), name=POLICY):
        for _ in range(5):
            bus.dispatch(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))
        now = timezone.now()
        old_dead, pending, failed, dead, done = Delivery.objects.filter(policy=POLICY).order_by("pk")
        Delivery.objects.filter(pk=old_dead.pk).update(
            status=Delivery.Status.DEAD,
            attempts=5,
            last_error="ConnectionError: down",
            created_at=now - timedelta(hours=3),
        )
        Delivery.objects.filter(pk=failed.pk).update(
            status=Delivery.Status.FAILED,
            attempts=1,
            last_error="ConnectionError: down",
            next_attempt_at=now + timedelta(minutes=10),
        )
        Delivery.objects.filter(pk=dead.pk).update(
            status=Delivery.Status.DEAD, attempts=5, last_error="ConnectionError: down"
        )
        Delivery.objects.filter(pk=done.pk).update(status=Delivery.Status.DONE, delivered_at=now)
        yield Troubled(pending, failed, dead, done, old_dead, ran)
