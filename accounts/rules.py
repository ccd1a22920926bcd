"""The rules of the social graph and of registration.

Pure functions of what a handler fetched through the repositories (the
accounts, read under their locks, and the facts about them): each returns
the event it decided on, ``None`` when there is nothing to do, or raises
the rejection. None touches the database.
"""

from dataclasses import dataclass
from uuid import UUID

from django.core.exceptions import ValidationError

from messaging.messages import Rejection

from .commands import BlockAccount, FollowAccount
from .events import (
    AccountBlocked,
    AccountCommandRejected,
    AccountFollowed,
    AccountRegistered,
    BlockRejected,
    FollowBatchScheduled,
    FollowRejected,
    FollowsSevered,
    PasswordChanged,
    PasswordResetMailWithheld,
    PasswordResetRequested,
    RegistrationRejected,
    SignUpAttemptMailed,
    SignUpAttemptMailWithheld,
    SignUpWithTakenEmail,
    VerificationLinkRequested,
)
from .models import Account
from .refusals import AccountRefusal
from .values import Email, Password, Username


@dataclass(frozen=True, kw_only=True)
class FollowFacts:
    """What following needs to know of a pair beyond the two accounts."""

    blocked: bool  # either blocks the other
    following: bool  # the follow exists already
    following_count: int  # how many accounts the follower follows


@dataclass(frozen=True, kw_only=True)
class Taken:
    """Who already uses a sign-up's e-mail (``None``: nobody), and whether
    its username is used."""

    email_owner: UUID | None = None
    username: bool = False


def require_active(account: Account | None, rejection: type[Rejection]) -> Account:
    """The account, which must exist and be active."""
    if account is None:
        raise rejection.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    if not account.is_active:
        raise rejection.refuse(AccountRefusal.ACCOUNT_INACTIVE)
    return account


def register(
    *, account_id: UUID, email: Email, username: Username, password: Password, taken: Taken
) -> list[AccountRegistered | VerificationLinkRequested] | list[SignUpWithTakenEmail]:
    """A new account, its address to be verified by a link mailed to it, if
    its password is strong enough and its username free (usernames are
    public: a taken one is said). An e-mail someone uses already makes no
    account, and is not said either: its owner is told by mail instead, and
    the sign-up answers as a new one does. (A concurrent registration can
    still take them first: the unique indexes have the last word.)"""
    try:
        password.check_strength(username=str(username), email=str(email))
    except ValidationError as weak:
        raise RegistrationRejected.refuse(AccountRefusal.WEAK_PASSWORD, " ".join(weak.messages)) from None
    if taken.username:
        raise RegistrationRejected.refuse(AccountRefusal.USERNAME_TAKEN)
    if taken.email_owner is not None:
        return [SignUpWithTakenEmail(account_id=taken.email_owner)]
    registered = AccountRegistered(account_id=account_id, email=str(email), username=str(username))
    return [registered, VerificationLinkRequested(account_id=account_id)]


def open_account(*, account_id: UUID, email: Email, username: Username, taken: bool) -> AccountRegistered:
    """A new account, unless its e-mail or its username is ``taken``. (The
    password's policy is ``register``'s; a seeded account's password was
    chosen by the seeding.)"""
    if taken:
        raise already_taken()
    return AccountRegistered(account_id=account_id, email=str(email), username=str(username))


def already_taken():
    """The refusal of a taken e-mail or username: one answer for both, so it
    does not say which, and a stranger cannot tell an e-mail is registered."""
    return RegistrationRejected.refuse(AccountRefusal.ACCOUNT_ALREADY_EXISTS)


def reset_link(
    account: Account, *, mails_in_window: int, cap: int
) -> list[PasswordResetRequested | PasswordResetMailWithheld]:
    """A reset link for the account if it may have one (active, with a
    password) and its inbox had fewer than ``cap`` within the window; past
    the cap the link is withheld, so that nobody floods an inbox by asking
    from many addresses."""
    requested = account.request_password_reset()
    if requested is None:
        return []
    if mails_in_window >= cap:
        return [PasswordResetMailWithheld(account_id=account.pk, mails_in_window=mails_in_window)]
    return [requested]


def sign_up_attempt_mail(
    account: Account, *, mails_in_window: int, cap: int
) -> list[SignUpAttemptMailed | SignUpAttemptMailWithheld]:
    """Tell an active account's owner of a sign-up with their address,
    unless ``cap`` such mails went to them within the window."""
    if not account.is_active:
        return []
    if mails_in_window >= cap:
        return [SignUpAttemptMailWithheld(account_id=account.pk, mails_in_window=mails_in_window)]
    return [SignUpAttemptMailed(account_id=account.pk)]


def change_password(account: Account | None, password: Password) -> PasswordChanged:
    """The account's new password, if the account is active and the password
    passes the password policy for it (which compares it with the account's
    username and e-mail)."""
    account = require_active(account, AccountCommandRejected)
    try:
        password.check_strength(username=account.username, email=account.email)
    except ValidationError as weak:
        raise AccountCommandRejected.refuse(AccountRefusal.WEAK_PASSWORD, " ".join(weak.messages)) from None
    return account.change_password(password)


def follow(
    command: FollowAccount, follower: Account | None, followee: Account | None, facts: FollowFacts, *, limit: int
) -> AccountFollowed | None:
    """The follow the command asks for, unless it is of oneself, either
    account is missing or inactive, a block stands between them, or the
    follower is at ``limit``; ``None`` if it exists already."""
    if command.follower_id == command.followee_id:
        raise FollowRejected.refuse(AccountRefusal.CANNOT_FOLLOW_SELF)
    require_active(follower, FollowRejected)
    require_active(followee, FollowRejected)
    if facts.blocked:
        raise FollowRejected.refuse(
            AccountRefusal.BLOCKED, "You cannot follow this account: there is a block between you."
        )
    if facts.following:
        return None
    if facts.following_count >= limit:
        raise FollowRejected.refuse(
            AccountRefusal.FOLLOW_LIMIT_REACHED, f"You already follow {limit} accounts, the limit."
        )
    return AccountFollowed(follower_id=follower.pk, followee_id=followee.pk)


def block(
    command: BlockAccount, blocker: Account | None, blocked: Account | None, *, already_blocking: bool
) -> AccountBlocked | None:
    """The block the command asks for, unless it is of oneself, the blocker
    is missing or inactive, or the blocked account is missing; ``None`` if it
    exists already. (An inactive account may be blocked.)"""
    if command.blocker_id == command.blocked_id:
        raise BlockRejected.refuse(AccountRefusal.CANNOT_BLOCK_SELF)
    require_active(blocker, BlockRejected)
    if blocked is None:
        raise BlockRejected.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    if already_blocking:
        return None
    return AccountBlocked(blocker_id=blocker.pk, blocked_id=blocked.pk)


def batch_starts(follow_ids: list[int], *, batch_size: int) -> tuple[int, ...]:
    """The row id each batch of at most ``batch_size`` of these follows (in
    row id order) starts at."""
    return tuple(follow_ids[::batch_size])


def schedule_batches(
    account_id: UUID, reason: str, batch_starts: tuple[int, ...], last_follow: int, *, batch_size: int
) -> list[FollowBatchScheduled]:
    """The parts that remove the batches starting at ``batch_starts`` (row
    ids in order; the last batch ends at ``last_follow``): one part per
    batch when they are at most half a batch of parts; otherwise groups of
    batches, each as many as a whole tree of that fan-out holds, whose
    deliveries schedule them in turn without reading a follow. So no
    transaction writes more than about a batch of rows, and only a batch's
    own delivery reads the follows, whatever the size."""
    fan = max(2, batch_size // 2)
    group = 1
    while len(batch_starts) > group * fan:
        group *= fan
    groups = [batch_starts[start : start + group] for start in range(0, len(batch_starts), group)]
    ends = [following[0] - 1 for following in groups[1:]] + [last_follow] if groups else []
    return [
        FollowBatchScheduled(
            account_id=account_id,
            reason=reason,
            first_follow=starts[0],
            last_follow=end,
            batch_starts=starts if len(starts) > 1 else (),
        )
        for starts, end in zip(groups, ends, strict=True)
    ]


def severed(account_id: UUID, reason: str, removed: list[tuple[UUID, UUID]]) -> FollowsSevered | None:
    """The record of the follows (follower, followee) removed in and out of
    the account; ``None`` if none was left to remove."""
    if not removed:
        return None
    followers = tuple(follower for follower, followee in removed if followee == account_id)
    followees = tuple(followee for follower, followee in removed if follower == account_id)
    return FollowsSevered(account_id=account_id, reason=reason, followers=followers, followees=followees)
