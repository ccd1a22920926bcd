"""Follower and following counts: projected from the follow events, rebuilt from the follows."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts import projections
from accounts.commands import BlockAccount, FollowAccount, UnfollowAccount
from accounts.models import Account, AccountStats, Follow
from accounts.queries import account
from messaging import bus
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


def test_rebuild_corrects_the_drift_and_says_how_much(db):
    alice, bob = AccountFactory(), AccountFactory()
    Follow.objects.create(follower=alice, followee=bob)  # behind the projector's back
    AccountStats.objects.update_or_create(account=alice, defaults={"followers_count": 7})

    with pytest.raises(CommandError, match="2 violation"):
        check()
    out = io.StringIO()
    call_command("rebuild_projections", stdout=out)

    assert out.getvalue().strip() == "follow counts: corrected 2 account(s)"
    assert (counts(alice), counts(bob)) == ((0, 1), (1, 0))
    assert list(projections.drift()) == []


def test_rebuild_waits_for_open_count_deliveries_which_would_count_twice(db):
    alice, bob = AccountFactory(), AccountFactory()
    bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))  # its count delivery waits for the relay

    with pytest.raises(CommandError, match="1 follow-count deliveries are not done yet"):
        call_command("rebuild_projections", stdout=io.StringIO())

    call_command("relay_events", stdout=io.StringIO())
    call_command("rebuild_projections", stdout=io.StringIO())
    assert (counts(alice), counts(bob)) == ((0, 1), (1, 0))
