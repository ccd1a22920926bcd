"""Follower and following counts: projected inline from the follow events
(in the transaction that appends them), rebuilt from the follows."""

import dataclasses
import io
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import projections
from accounts.commands import BlockAccount, DeactivateAccount, FollowAccount, UnfollowAccount
from accounts.events import AccountFollowed, AccountRegistered, FollowsSevered
from accounts.models import Account, AccountStats, Follow
from accounts.queries import account
from messaging import bus
from messaging.features import rebuilds, subscriptions
from messaging.models import Delivery, StoredEvent
from messaging.registry import registry
from tests.project.test_check_invariants import check
from tests.support.factories import AccountFactory

retirement = import_module("accounts.migrations.0004_follow_counts_projected_inline")


def counts(someone) -> tuple[int, int]:
    """(followers, following) as every read of an account shows them."""
    shown = account(someone.pk)
    return shown.followers_count, shown.following_count


def test_follows_and_their_removal_move_the_counts(db, scenario):
    # given
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
    scenario.given(FollowAccount(follower_id=carol.pk, followee_id=bob.pk))
    scenario.given(FollowAccount(follower_id=bob.pk, followee_id=alice.pk))

    # when
    scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    scenario.when(UnfollowAccount(follower_id=carol.pk, followee_id=bob.pk))

    # then
    assert counts(alice) == counts(bob) == counts(carol) == (0, 0)
    assert check().startswith("all ")


def test_a_repeated_follow_is_counted_once(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    assert (counts(alice), counts(bob)) == ((0, 1), (1, 0))


def test_an_account_made_by_createsuperuser_starts_from_zero(db, scenario):
    admin = Account.objects.create_superuser("root", "root@example.com", "pw")
    alice = AccountFactory()
    assert counts(admin) == (0, 0)

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=admin.pk))

    assert counts(admin) == (1, 0)


def test_rebuild_replays_the_events_and_says_how_many_figures_it_corrected(db, scenario):
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
    scenario.given(FollowAccount(follower_id=carol.pk, followee_id=bob.pk))
    scenario.given(UnfollowAccount(follower_id=carol.pk, followee_id=bob.pk))
    AccountStats.objects.filter(account=alice).update(followers_count=7)  # the read model drifted

    with pytest.raises(CommandError, match="1 violation"):
        check()
    out = io.StringIO()
    call_command("rebuild_projections", stdout=out, stderr=io.StringIO())

    assert out.getvalue().strip() == "follow_counts: rebuilt from 3 event(s), 1 figure(s) changed"
    assert (counts(alice), counts(bob), counts(carol)) == ((0, 1), (1, 0), (0, 0))
    assert list(projections.drift()) == []


def test_every_projection_rebuilds_from_events_to_exactly_the_figures_it_had(db, scenario, settings):
    settings.MESSAGING_FANOUT_BATCH_SIZE = 2
    people = [AccountFactory() for _ in range(6)]
    for follower in people:
        for followee in people[:4]:
            if follower != followee:
                scenario.given(FollowAccount(follower_id=follower.pk, followee_id=followee.pk))
    scenario.given(BlockAccount(blocker_id=people[0].pk, blocked_id=people[1].pk))
    scenario.given(UnfollowAccount(follower_id=people[2].pk, followee_id=people[3].pk))
    scenario.given(DeactivateAccount(account_id=people[3].pk))  # in batches: FollowsSevered
    call_command("relay_events", stdout=io.StringIO(), stderr=io.StringIO())
    before = projections.snapshot()

    for name, projection in registry.projections.items():
        for replaying in (projection, dataclasses.replace(projection, replay=None)):  # in batches, event by event
            replayed, changed = rebuilds.rebuild(replaying, batch=3)  # beside the live one, then swapped in
            assert (replayed > 0, changed) == (True, 0), (name, replaying.replay)
        replayed, changed = subscriptions.rebuild(projection, batch=3)  # in place, for a projection with no models
        assert (replayed > 0, changed) == (True, 0), name

    assert projections.snapshot() == before
    assert list(projections.drift()) == []


def test_a_replayed_batch_moves_the_counts_as_its_projectors_would_in_statements_its_size_does_not_add_to(db):
    people = [AccountFactory() for _ in range(30)]
    AccountStats.objects.all().delete()  # accounts made outside the pipeline: no row yet
    newcomer = AccountFactory()
    follows = [AccountFollowed(follower_id=a.pk, followee_id=b.pk) for a in people for b in people[:8] if a != b]
    severed = FollowsSevered(
        account_id=people[0].pk, reason="account_deactivated", followers=(people[9].pk,), followees=(people[1].pk,)
    )
    batch = [AccountRegistered(account_id=newcomer.pk, email="n@example.com", username="n"), *follows, severed]

    with CaptureQueriesContext(connection) as small:
        projections.replay(batch[:20])
    AccountStats.objects.all().delete()
    with CaptureQueriesContext(connection) as whole:
        projections.replay(batch)
    replayed = projections.snapshot()
    AccountStats.objects.all().delete()
    for event in batch:
        registry.projections["follow_counts"].projectors[type(event)](event)

    assert replayed == projections.snapshot()
    assert replayed[newcomer.pk] == (0, 0)
    assert len(batch) > 10 * len(whole) and len(whole) <= len(small) + 10


def test_an_event_committed_late_behind_the_rebuilds_reading_is_replayed_at_the_swap(db, scenario):
    people = [AccountFactory() for _ in range(4)]
    for follower in people[1:]:
        scenario.given(FollowAccount(follower_id=follower.pk, followee_id=people[0].pk))
    first = StoredEvent.objects.filter(type=AccountFollowed.type_name()).order_by("position").first()
    StoredEvent.objects.filter(pk=first.pk).update(type="not.yet.committed")  # its transaction still open
    revealed = []

    def commit_late(progress):  # after the first batch read past its position
        if not revealed:
            revealed.append(StoredEvent.objects.filter(pk=first.pk).update(type=first.type))

    replayed, changed = rebuilds.rebuild(registry.projections["follow_counts"], batch=1, progress=commit_late)

    assert (replayed, changed) == (3, 0)  # the late one too, found at the swap: no figure lost
    assert counts(people[0]) == (3, 0)
    assert list(projections.drift()) == []


def test_rebuild_names_what_it_does_not_know(db):
    with pytest.raises(CommandError, match="no projection named nothing; known: follow_counts"):
        call_command("rebuild_projections", "nothing")


def test_the_counts_are_right_the_moment_the_command_returns_with_no_delivery_for_them(db, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False  # nothing runs after the commit: no relay either
    alice, bob = AccountFactory(), AccountFactory()

    followed = bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    assert (counts(alice), counts(bob)) == ((0, 1), (1, 0))
    assert not Delivery.objects.filter(event=followed.events[0].event_id).exists()
    assert registry.policies_for(followed.events[0]) == []
    assert check().startswith("all ")


def test_a_projector_that_raises_fails_the_command_and_leaves_nothing(db, scratch_registry):
    alice, bob = AccountFactory(), AccountFactory()

    def breaks(event):
        raise RuntimeError("the read model's table is gone")

    scratch_registry.register_projection("broken", {AccountFollowed: breaks}, reset=lambda: None)

    with pytest.raises(RuntimeError, match="table is gone"):
        bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    assert not Follow.objects.exists()
    assert not StoredEvent.objects.filter(type="AccountFollowed").exists()
    assert (counts(alice), counts(bob)) == ((0, 0), (0, 0))


def test_a_replay_of_a_projection_is_refused_with_what_to_run_instead(db):
    with pytest.raises(CommandError, match="rebuild it from the log with rebuild_projections follow_counts") as refused:
        call_command("replay", "follow_counts", stdout=io.StringIO())

    assert refused.value.returncode == 1


def test_the_retired_projector_deliveries_still_open_or_dead_go_and_their_counts_are_set_from_the_follows(db):
    # given a database of the previous release: follows whose count deliveries
    # wait (the counts not moved yet), one dead-lettered, one done long ago
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    follows = [(alice, bob), (carol, bob), (bob, alice)]
    for follower, followee in follows:
        bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=followee.pk))
    AccountStats.objects.update(followers_count=0, following_count=0)  # as before their deliveries ran
    events = list(StoredEvent.objects.filter(type="AccountFollowed").order_by("position"))
    count_follow = "accounts.projections.count_follow"
    for row, status in zip(events, ["pending", "dead", "done"], strict=True):
        Delivery.objects.create(event=row, policy=count_follow, status=status, next_attempt_at=row.occurred_at)
    AccountStats.objects.filter(account=alice).update(followers_count=1)  # the done one had counted bob -> alice
    AccountStats.objects.filter(account=bob).update(following_count=1)
    kept = Delivery.objects.exclude(policy=count_follow).count()

    # when the migration runs
    retirement.retire_the_projector_deliveries(apps, None)

    # then only the done one stays, and every count matches the follows
    assert list(Delivery.objects.filter(policy=count_follow).values_list("status", flat=True)) == ["done"]
    assert Delivery.objects.exclude(policy=count_follow).count() == kept
    assert (counts(alice), counts(bob), counts(carol)) == ((1, 1), (2, 1), (0, 1))
    assert check().startswith("all ")
