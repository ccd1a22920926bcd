"""Subscriptions with a start: a policy added to a database with history
starts from now; replaying it runs it once over the past, resumably; the
sweep catches what a previous release's process left out."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus, store
from messaging.features import subscriptions
from messaging.models import Delivery, StoredEvent, Subscription
from messaging.registry import registry
from messaging.testing import relay, subscribed
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db

WELCOME = "tests.welcome_every_follow"


class Counting:
    """A policy that counts the events it handled."""

    def __init__(self):
        self.handled = []

    def __call__(self, event):
        self.handled.append(event.event_id)


def a_history(follows: int) -> list:
    """Follows, their consequences delivered: the events they stored."""
    people = [AccountFactory() for _ in range(follows + 1)]
    followed = [
        bus.dispatch(FollowAccount(follower_id=people[0].pk, followee_id=other.pk)).events[0] for other in people[1:]
    ]
    relay()
    return followed


def invariants() -> str:
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    return out.getvalue()


def test_a_policy_added_to_a_database_with_history_starts_from_now(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    past = a_history(3)
    policy = Counting()
    with subscribed(AccountFollowed, policy, name=WELCOME):
        assert subscriptions.start_new() == [WELCOME]  # what migrate does on deploy
        assert "all" in invariants()  # the past is not owed

        [later] = a_history(1)
        relay()

    assert policy.handled == [later.event_id]
    assert Subscription.objects.get(name=WELCOME).starts_after >= max(
        StoredEvent.objects.filter(event_id__in=[e.event_id for e in past]).values_list("position", flat=True)
    )


def test_replay_runs_the_new_policy_once_over_every_past_event_and_a_second_replay_adds_nothing():
    past = a_history(4)
    policy = Counting()
    with subscribed(AccountFollowed, policy, name=WELCOME):
        subscriptions.start_new()
        out = io.StringIO()
        call_command("replay", "welcome_every_follow", stdout=out, stderr=io.StringIO())
        relay()
        call_command("replay", WELCOME, stdout=io.StringIO(), stderr=io.StringIO())
        relay()

        assert "opened 4 deliveries" in out.getvalue()
        assert sorted(policy.handled) == sorted(event.event_id for event in past)
        assert "all" in invariants()


def test_a_replay_that_crashed_half_way_then_runs_again_applies_nothing_twice(monkeypatch):
    past = a_history(5)
    policy = Counting()
    opened = []
    open_deliveries = store.open_deliveries

    def dies_after_two_batches(policy_, event_ids, **options):
        if len(opened) == 2:
            raise KeyboardInterrupt  # the operator's process is killed
        opened.append(event_ids)
        open_deliveries(policy_, event_ids, **options)

    with subscribed(AccountFollowed, policy, name=WELCOME):
        subscriptions.start_new()
        monkeypatch.setattr(store, "open_deliveries", dies_after_two_batches)
        with pytest.raises(KeyboardInterrupt):
            subscriptions.replay(WELCOME, batch=2)
        assert "has no delivery for tests.welcome_every_follow" in _violations()  # says what is still owed

        monkeypatch.setattr(store, "open_deliveries", open_deliveries)
        assert subscriptions.replay(WELCOME, batch=2) == 1
        relay()

        assert sorted(policy.handled) == sorted(event.event_id for event in past)
        assert Delivery.objects.filter(policy=WELCOME).count() == 5


def test_replay_from_a_position_or_a_time_and_a_dry_run():
    past = a_history(4)
    positions = list(StoredEvent.objects.filter(type="AccountFollowed").values_list("position", flat=True))
    with subscribed(AccountFollowed, Counting(), name=WELCOME):
        subscriptions.start_new()
        out = io.StringIO()
        call_command("replay", WELCOME, "--from", str(positions[2]), "--dry-run", stdout=out)
        assert "would open 2 deliveries" in out.getvalue()
        assert not Delivery.objects.filter(policy=WELCOME).exists()

        StoredEvent.objects.filter(event_id=past[0].event_id).update(occurred_at=timezone.now() - timedelta(days=3))
        since = (timezone.now() - timedelta(days=1)).isoformat()
        call_command("replay", WELCOME, "--from", since, stdout=io.StringIO(), stderr=io.StringIO())

    assert Delivery.objects.filter(policy=WELCOME).count() == 3


def test_a_policy_that_mails_people_is_replayed_only_with_force():
    with subscribed(AccountFollowed, Counting(), name=WELCOME, outside=True):
        subscriptions.start_new()
        a_history(1)
        with pytest.raises(CommandError, match="outside effect.*--force"):
            call_command("replay", WELCOME, stdout=io.StringIO())
        call_command("replay", WELCOME, "--force", stdout=io.StringIO(), stderr=io.StringIO())


def test_replay_names_what_it_does_not_know():
    with pytest.raises(CommandError, match="no policy or projection is named 'nothing'") as error:
        call_command("replay", "nothing")
    assert error.value.returncode == 2


def test_the_sweep_opens_deliveries_a_previous_release_left_out(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    policy = Counting()
    with subscribed(AccountFollowed, policy, name=WELCOME) as subscription:
        subscriptions.start_new()  # the new release migrated and started
        registry.unsubscribe(subscription)  # ...while a process of the previous release, which knows no welcome, runs
        [written_by_the_old_release] = a_history(1)
        registry.subscriptions[AccountFollowed].append(subscription)
        registry.policies[WELCOME] = subscription
        assert "has no delivery for tests.welcome_every_follow" in _violations()

        relay()  # every relay run begins with the sweep

    assert policy.handled == [written_by_the_old_release.event_id]
    assert "all" in invariants()


def _violations() -> str:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_invariants", stdout=out)
    return out.getvalue()
