"""The workshop story: Alice follows Bob, Bob blocks Alice."""

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountBlocked, AccountFollowed, FollowRemoved
from accounts.models import Follow
from tests.support.factories import AccountFactory


def test_a_block_removes_the_follow_after_commit_and_alice_cannot_follow_again(db, scenario):
    # given
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_events(AccountFollowed)

    # when
    outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    # then
    outcome.then_events(AccountBlocked).then_cascade(AccountBlocked, FollowRemoved).then_deliveries(
        done=1
    )  # the policy (the counts are projected in the removal's own transaction)
    removal = outcome.cascade[1]
    assert (removal.follower_id, removal.followee_id, removal.reason) == (alice.pk, bob.pk, "blocked")
    assert removal.causation_id == outcome.events[0].event_id
    assert removal.correlation_id == outcome.events[0].correlation_id
    assert not Follow.objects.exists()
    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_rejected("blocked")
