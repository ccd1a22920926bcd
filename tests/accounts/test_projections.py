"""Follower and following counts: projected from the follow events, rebuilt from the follows."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts import projections
from accounts.commands import BlockAccount, DeactivateAccount, FollowAccount, UnfollowAccount
from accounts.models import Account, AccountStats
from accounts.queries import account
from messaging import bus, subscriptions
from messaging.registry import registry
from tests.factories import AccountFactory
from tests.test_check_invariants import check


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
    settings.FANOUT_BATCH_SIZE = 2
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
        replayed, changed = subscriptions.rebuild(projection, batch=3)
        assert (replayed > 0, changed) == (True, 0), name

    assert projections.snapshot() == before
    assert list(projections.drift()) == []


def test_rebuild_names_what_it_does_not_know(db):
    with pytest.raises(CommandError, match="no projection named nothing; known: follow_counts"):
        call_command("rebuild_projections", "nothing")


def test_rebuild_waits_for_open_count_deliveries_which_would_count_twice(db):
    alice, bob = AccountFactory(), AccountFactory()
    bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))  # its count delivery waits for the relay

    with pytest.raises(CommandError, match="follow_counts: 1 deliveries are not done yet"):
        call_command("rebuild_projections", stdout=io.StringIO())

    call_command("relay_events", stdout=io.StringIO())
    call_command("rebuild_projections", stdout=io.StringIO(), stderr=io.StringIO())
    assert (counts(alice), counts(bob)) == ((0, 1), (1, 0))
