"""The rules of the social graph and of registration, without a database:
unsaved accounts and plain facts, decided by ``accounts.rules``. (No ``db``
fixture: any query here would fail the test.)"""

import uuid

import pytest

from accounts import rules
from accounts.commands import BlockAccount, FollowAccount
from accounts.events import (
    AccountBlocked,
    AccountFollowed,
    FollowBatchScheduled,
    FollowsSevered,
    SignUpWithTakenEmail,
    VerificationLinkRequested,
)
from accounts.models import Account
from accounts.rules import FollowFacts
from accounts.values import Email, Password, Username
from messaging.messages import Refused

NO_FACTS = FollowFacts(blocked=False, following=False, following_count=0)


def an_account(username: str, *, active: bool = True) -> Account:
    return Account(username=username, email=f"{username}@example.com", is_active=active)


def follow(follower, followee, facts=NO_FACTS, *, limit=5):
    command = FollowAccount(follower_id=follower.pk, followee_id=followee.pk)
    return rules.follow(command, follower, followee, facts, limit=limit)


def code(refused: pytest.ExceptionInfo[Refused]) -> str:
    return refused.value.rejection.code


def test_an_active_account_follows_another():
    ann, bob = an_account("ann"), an_account("bob")

    followed = follow(ann, bob)

    assert (type(followed), followed.follower_id, followed.followee_id) == (AccountFollowed, ann.pk, bob.pk)


def test_following_again_is_nothing():
    ann, bob = an_account("ann"), an_account("bob")

    assert follow(ann, bob, FollowFacts(blocked=False, following=True, following_count=5), limit=5) is None


def test_nobody_follows_themselves():
    ann = an_account("ann")

    with pytest.raises(Refused) as refused:
        follow(ann, ann)

    assert code(refused) == "cannot_follow_self"


@pytest.mark.parametrize("side", ["follower", "followee"])
def test_an_inactive_account_neither_follows_nor_is_followed(side):
    ann, bob = an_account("ann", active=side != "follower"), an_account("bob", active=side != "followee")

    with pytest.raises(Refused) as refused:
        follow(ann, bob)

    assert code(refused) == "account_inactive"


def test_a_missing_account_is_not_followed():
    ann = an_account("ann")
    command = FollowAccount(follower_id=ann.pk, followee_id=uuid.uuid4())

    with pytest.raises(Refused) as refused:
        rules.follow(command, ann, None, NO_FACTS, limit=5)

    assert code(refused) == "account_not_found"


def test_nobody_follows_across_a_block():
    ann, bob = an_account("ann"), an_account("bob")

    with pytest.raises(Refused) as refused:
        follow(ann, bob, FollowFacts(blocked=True, following=False, following_count=0))

    assert (code(refused), refused.value.rejection.reason) == (
        "blocked",
        "You cannot follow this account: there is a block between you.",
    )


def test_an_account_at_the_limit_follows_nobody_new():
    ann, bob = an_account("ann"), an_account("bob")

    with pytest.raises(Refused) as refused:
        follow(ann, bob, FollowFacts(blocked=False, following=False, following_count=5), limit=5)

    assert code(refused) == "follow_limit_reached"


def block(blocker, blocked, *, already=False):
    command = BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk if blocked else uuid.uuid4())
    return rules.block(command, blocker, blocked, already_blocking=already)


def test_an_account_blocks_another_even_an_inactive_one():
    ann, bob = an_account("ann"), an_account("bob", active=False)

    blocked = block(ann, bob)

    assert (type(blocked), blocked.blocker_id, blocked.blocked_id) == (AccountBlocked, ann.pk, bob.pk)
    assert block(ann, bob, already=True) is None


@pytest.mark.parametrize(
    ("blocker", "blocked", "expected"),
    [
        (an_account("ann", active=False), an_account("bob"), "account_inactive"),
        (an_account("ann"), None, "account_not_found"),
    ],
)
def test_a_block_needs_an_active_blocker_and_an_account_to_block(blocker, blocked, expected):
    with pytest.raises(Refused) as refused:
        block(blocker, blocked)

    assert code(refused) == expected


def test_nobody_blocks_themselves():
    ann = an_account("ann")

    with pytest.raises(Refused) as refused:
        block(ann, ann)

    assert code(refused) == "cannot_block_self"


FREE = rules.Taken()


def register(*, password="a long secret phrase", taken=FREE):
    return rules.register(
        account_id=uuid.uuid4(),
        email=Email("Ann@Example.com"),
        username=Username("ann"),
        password=Password(password),
        taken=taken,
    )


def test_a_registration_with_a_strong_password_and_free_names_opens_an_account_to_verify():
    registered, verify = register()

    assert (registered.email, registered.username) == ("ann@example.com", "ann")
    assert isinstance(verify, VerificationLinkRequested) and verify.account_id == registered.account_id


def test_a_registration_of_a_taken_username_is_refused_and_says_so():
    with pytest.raises(Refused) as refused:
        register(taken=rules.Taken(username=True))

    assert (code(refused), refused.value.rejection.reason) == (
        "username_taken",
        "That username is taken: choose another.",
    )


def test_a_registration_of_a_taken_email_makes_no_account_and_tells_its_owner():
    owner = uuid.uuid4()

    [attempt] = register(taken=rules.Taken(email_owner=owner))

    assert isinstance(attempt, SignUpWithTakenEmail) and attempt.account_id == owner


def test_a_weak_password_is_refused_before_anything_else():
    with pytest.raises(Refused) as refused:
        register(password="12345678", taken=rules.Taken(email_owner=uuid.uuid4(), username=True))

    assert code(refused) == "weak_password"


def test_follows_are_cut_into_batches_named_by_their_first_row_id():
    assert rules.batch_starts([3, 5, 8, 9, 12], batch_size=2) == (3, 8, 12)
    assert rules.batch_starts([3, 5], batch_size=2) == (3,)
    assert rules.batch_starts([], batch_size=2) == ()


def test_no_batches_schedule_nothing():
    assert rules.schedule_batches(uuid.uuid4(), "account_deactivated", (), 9, batch_size=10) == []


def leaves(account, batch_starts, last, batch_size, *, fan):
    """Expand a schedule as its deliveries would, part by part: the leaf
    ranges reached, each split checked to schedule at most ``fan`` parts."""
    parts = rules.schedule_batches(account, "account_deactivated", batch_starts, last, batch_size=batch_size)
    assert 1 <= len(parts) <= fan
    reached = []
    for part in parts:
        assert isinstance(part, FollowBatchScheduled) and part.account_id == account
        if part.batch_starts:
            assert part.batch_starts[0] == part.first_follow and len(part.batch_starts) > 1
            reached += leaves(account, part.batch_starts, part.last_follow, batch_size, fan=fan)
        else:
            reached.append((part.first_follow, part.last_follow))
    return reached


def test_batches_that_fit_in_half_a_batch_of_parts_are_one_part_each():
    account = uuid.uuid4()

    parts = rules.schedule_batches(account, "account_deactivated", (10, 20, 30), 39, batch_size=10)

    assert [(part.first_follow, part.last_follow, part.batch_starts) for part in parts] == [
        (10, 19, ()),
        (20, 29, ()),
        (30, 39, ()),
    ]


@pytest.mark.parametrize("follows", [7, 11, 100, 1000])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 10])
def test_any_number_of_batches_is_reached_by_splits_of_at_most_half_a_batch(follows, batch_size):
    """Each batch ends up a part of its own, exactly the ids it held; no split
    schedules more than half a batch of parts (two at least)."""
    account, follow_ids = uuid.uuid4(), list(range(5, 5 + 3 * follows, 3))
    batch_starts = rules.batch_starts(follow_ids, batch_size=batch_size)

    reached = leaves(account, batch_starts, follow_ids[-1], batch_size, fan=max(2, batch_size // 2))

    assert [first for first, _ in reached] == list(batch_starts)
    held = [[f for f in follow_ids if first <= f <= last] for first, last in reached]
    assert [f for batch in held for f in batch] == follow_ids
    assert all(1 <= len(batch) <= batch_size for batch in held)


def test_severed_follows_are_told_apart_as_followers_and_followees():
    account, ann, bob = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    severed = rules.severed(account, "account_deactivated", [(ann, account), (account, bob)])

    assert (type(severed), severed.followers, severed.followees) == (FollowsSevered, (ann,), (bob,))
    assert rules.severed(account, "account_deactivated", []) is None


def test_an_account_deactivates_once():
    ann = an_account("ann")

    deactivated = ann.deactivate()

    assert (deactivated.account_id, ann.is_active, ann.deactivate()) == (ann.pk, False, None)


def test_an_account_is_granted_staff_once():
    ann = an_account("ann")

    granted = ann.grant_staff()

    assert (granted.account_id, ann.is_staff, ann.is_superuser, ann.grant_staff()) == (ann.pk, True, True, None)
