"""Command handlers of the accounts context.

Each reads as the four steps: validate the command, fetch state through
the repositories, derive the events from the rules, update state. A refusal
is raised as ``Refused``; the bus rolls back and records it.
"""

import math
import uuid

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError

from messaging.messages import Event, Rejection

from . import repositories as accounts
from .commands import (
    BlockAccount,
    DeactivateAccount,
    FollowAccount,
    GrantStaff,
    RegisterAccount,
    RemoveFollower,
    SeverAllFollows,
    SeverFollowBatch,
    SeverFollows,
    UnblockAccount,
    UnfollowAccount,
)
from .events import (
    AccountBlocked,
    AccountCommandRejected,
    AccountDeactivated,
    AccountFollowed,
    AccountRegistered,
    AccountUnblocked,
    BlockRejected,
    FollowBatchScheduled,
    FollowRejected,
    FollowRemoved,
    FollowsSevered,
    RegistrationRejected,
    StaffGranted,
)
from .models import Account


def _require_active(account: Account | None, rejection: type[Rejection]) -> Account:
    if account is None:
        raise rejection.refuse("account_not_found", "No such account.")
    if not account.is_active:
        raise rejection.refuse("account_inactive", f"{account.username} is deactivated.")
    return account


def _require_exists(account_id: uuid.UUID, rejection: type[Rejection] = AccountCommandRejected) -> Account:
    account = accounts.get(account_id)
    if account is None:
        raise rejection.refuse("account_not_found", "No such account.")
    return account


def register_account(command: RegisterAccount) -> list[Event]:
    email, username = str(command.email), str(command.username)
    try:
        command.password.check_strength(username=username, email=email)
    except ValidationError as weak:
        raise RegistrationRejected.refuse("weak_password", " ".join(weak.messages)) from None
    # One answer whether the e-mail or the username is taken, so it does not
    # say which: a stranger cannot tell an e-mail is registered from it alone.
    already = RegistrationRejected.refuse("account_already_exists", "That e-mail or username is already taken.")
    if accounts.is_taken(email, username):
        raise already
    account_id = uuid.uuid4()
    try:
        accounts.add(
            account_id=account_id, email=email, username=username, password_hash=make_password(command.password.value)
        )
    except accounts.DuplicateAccount:  # a concurrent registration won the race
        raise already from None
    return [AccountRegistered(account_id=account_id, email=email, username=username)]


def grant_staff(command: GrantStaff) -> list[Event]:
    account = _require_exists(command.account_id)
    if account.is_staff and account.is_superuser:
        return []
    account.is_staff = account.is_superuser = True
    accounts.save(account, "is_staff", "is_superuser")
    return [StaffGranted(account_id=account.pk)]


def follow_account(command: FollowAccount) -> list[Event]:
    if command.follower_id == command.followee_id:
        raise FollowRejected.refuse("cannot_follow_self", "You cannot follow yourself.")

    follower, followee = accounts.lock_pair(command.follower_id, command.followee_id)
    _require_active(follower, FollowRejected)
    _require_active(followee, FollowRejected)
    if accounts.block_between(follower.pk, followee.pk):
        raise FollowRejected.refuse("blocked", f"You cannot follow {followee.username}: there is a block between you.")
    if accounts.is_following(follower.pk, followee.pk):
        return []
    if accounts.following_count(follower.pk) >= settings.FOLLOW_LIMIT:
        raise FollowRejected.refuse(
            "follow_limit_reached", f"You already follow {settings.FOLLOW_LIMIT} accounts, the limit."
        )

    accounts.add_follow(follower.pk, followee.pk)
    return [AccountFollowed(follower_id=follower.pk, followee_id=followee.pk)]


def unfollow_account(command: UnfollowAccount) -> list[Event]:
    _require_exists(command.followee_id)
    if not accounts.remove_follow(command.follower_id, command.followee_id):
        return []
    return [FollowRemoved(follower_id=command.follower_id, followee_id=command.followee_id, reason="unfollowed")]


def remove_follower(command: RemoveFollower) -> list[Event]:
    _require_exists(command.follower_id)
    if not accounts.remove_follow(command.follower_id, command.account_id):
        return []
    return [FollowRemoved(follower_id=command.follower_id, followee_id=command.account_id, reason="follower_removed")]


def block_account(command: BlockAccount) -> list[Event]:
    if command.blocker_id == command.blocked_id:
        raise BlockRejected.refuse("cannot_block_self", "You cannot block yourself.")

    blocker, blocked = accounts.lock_pair(command.blocker_id, command.blocked_id)
    _require_active(blocker, BlockRejected)
    if blocked is None:
        raise BlockRejected.refuse("account_not_found", "No such account.")
    if accounts.is_blocking(blocker.pk, blocked.pk):
        return []

    accounts.add_block(blocker.pk, blocked.pk)
    return [AccountBlocked(blocker_id=blocker.pk, blocked_id=blocked.pk)]


def unblock_account(command: UnblockAccount) -> list[Event]:
    _require_exists(command.blocked_id)
    if not accounts.remove_block(command.blocker_id, command.blocked_id):
        return []
    return [AccountUnblocked(blocker_id=command.blocker_id, blocked_id=command.blocked_id)]


def deactivate_account(command: DeactivateAccount) -> list[Event]:
    account = accounts.lock(command.account_id)
    if account is None:
        raise AccountCommandRejected.refuse("account_not_found", "No such account.")
    if not account.is_active:
        return []
    account.is_active = False
    accounts.save(account, "is_active")
    return [AccountDeactivated(account_id=account.pk)]


def sever_follows(command: SeverFollows) -> list[Event]:
    accounts.lock_pair(command.account_id, command.other_id)
    return [
        FollowRemoved(follower_id=follower_id, followee_id=followee_id, reason=command.reason)
        for follower_id, followee_id in (
            (command.account_id, command.other_id),
            (command.other_id, command.account_id),
        )
        if accounts.remove_follow(follower_id, followee_id)
    ]


def sever_all_follows(command: SeverAllFollows) -> list[Event]:
    return _sever_batch(command.account_id, command.reason)


def sever_follow_batch(command: SeverFollowBatch) -> list[Event]:
    return _sever_batch(command.account_id, command.reason, command.first_follow, command.last_follow)


def _sever_batch(account_id: uuid.UUID, reason: str, first: int | None = None, last: int | None = None) -> list[Event]:
    """Remove the account's follows from ``first`` to ``last`` if they fit in
    one batch (``FANOUT_BATCH_SIZE``), as one ``FollowsSevered``; otherwise
    split them into at most half a batch of sibling parts, each scheduled
    as its own event and so delivered, exactly once, in its own transaction.
    Parts larger than a batch split again when delivered, so no transaction
    writes more than about a batch of rows, whatever the account's size."""
    accounts.lock(account_id)
    follow_ids = accounts.follow_ids_of(account_id, first, last)
    size = settings.FANOUT_BATCH_SIZE
    if len(follow_ids) <= size:
        removed = accounts.remove_follows(follow_ids)
        if not removed:
            return []
        followers = tuple(follower for follower, followee in removed if followee == account_id)
        followees = tuple(followee for follower, followee in removed if follower == account_id)
        return [FollowsSevered(account_id=account_id, reason=reason, followers=followers, followees=followees)]
    part = max(size, math.ceil(len(follow_ids) / max(1, size // 2)))
    return [
        FollowBatchScheduled(account_id=account_id, reason=reason, first_follow=ids[0], last_follow=ids[-1])
        for ids in (follow_ids[start : start + part] for start in range(0, len(follow_ids), part))
    ]
