"""A dead letter made the way production makes one: a policy whose service
is down fails every attempt until it is dead-lettered."""

from dataclasses import dataclass

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging.models import Delivery
from messaging.testing import subscribed
from tests.support.factories import AccountFactory

POLICY = "tests.notify_followee"


class OutsideService:
    """A policy's outside service: down (every call raises) until ``fix``ed;
    once up, it records each event it handled."""

    def __init__(self):
        self.down = True
        self.handled = []

    def __call__(self, event):
        if self.down:
            raise ConnectionError("the notification service is down")
        self.handled.append(event.event_id)

    def fix(self):
        self.down = False


@dataclass
class DeadLetter:
    row: Delivery
    service: OutsideService


def dead_letter(scenario, settings):
    """Subscribe ``POLICY`` to ``AccountFollowed`` with its service down, and
    follow once with a single attempt allowed: its delivery is dead. A
    generator for a fixture: the policy stays subscribed (a retry needs it)
    until the test ends."""
    settings.MESSAGING_MAX_ATTEMPTS = 1
    service = OutsideService()
    with subscribed(AccountFollowed, service, name=POLICY):
        scenario.when(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))
        row = Delivery.objects.get(policy=POLICY)
        assert row.status == Delivery.Status.DEAD
        yield DeadLetter(row, service)
