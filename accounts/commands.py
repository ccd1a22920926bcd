"""What can be asked of the accounts context."""

from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Command, PolicyCommand

from .values import Email, Password, PasswordHash, Username


@dataclass(frozen=True, kw_only=True)
class RegisterAccount(Command):
    email: Email
    username: Username
    password: Password


@dataclass(frozen=True, kw_only=True)
class RegisterSeededAccount(Command):
    """Register a demo account whose password was hashed beforehand, so that
    seeding many accounts costs one slow hash. For seeding only: a sign-up
    is a ``RegisterAccount``, whose password passes the password policy and
    is hashed by its handler."""

    email: Email
    username: Username
    password_hash: PasswordHash


@dataclass(frozen=True, kw_only=True)
class VerifyEmail(Command):
    """The account's owner followed the verification link mailed to its
    address (the interface checked the link's token first)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class ResendVerificationLink(Command):
    """Mail the account another verification link (throttled by the interfaces)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class RequestPasswordReset(Command):
    """Someone who forgot their password asks for a reset link by mail. Sent
    by anyone, about any address: the answer never says whether an account
    uses it."""

    email: Email


@dataclass(frozen=True, kw_only=True)
class ResolvePasswordReset(PolicyCommand):
    """Find the account a reset request (``request_id``) was about, after
    the request was answered (issued by a policy): a link is owed to an
    active account using ``email``, unless its inbox had its share of reset
    mails lately (``PASSWORD_RESET_MAILS_PER_RECIPIENT``)."""

    request_id: UUID
    email: Email


@dataclass(frozen=True, kw_only=True)
class TellOfSignUpAttempt(PolicyCommand):
    """Mail the owner of ``account_id`` that someone signed up with their
    address (issued by a policy), unless their inbox had its share of such
    mails lately (``SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT``)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class ChangePassword(Command):
    """Give an account a new password, which must pass the password policy
    (from a reset link: the interface checked the link's token first)."""

    account_id: UUID
    password: Password


@dataclass(frozen=True, kw_only=True)
class GrantStaff(Command):
    """Make an account an operator: the admin (every permission) and the staff console."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class FollowAccount(Command):
    follower_id: UUID
    followee_id: UUID


@dataclass(frozen=True, kw_only=True)
class UnfollowAccount(Command):
    follower_id: UUID
    followee_id: UUID


@dataclass(frozen=True, kw_only=True)
class RemoveFollower(Command):
    """``account_id`` stops ``follower_id`` from following them."""

    account_id: UUID
    follower_id: UUID


@dataclass(frozen=True, kw_only=True)
class BlockAccount(Command):
    blocker_id: UUID
    blocked_id: UUID


@dataclass(frozen=True, kw_only=True)
class UnblockAccount(Command):
    blocker_id: UUID
    blocked_id: UUID


@dataclass(frozen=True, kw_only=True)
class DeactivateAccount(Command):
    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class ForgetAccount(Command):
    """Deactivate an account and erase its person's data everywhere it was
    copied (the right to be forgotten): staff, or the person themselves
    once they have given their password again (the interfaces check it)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class SeverFollows(PolicyCommand):
    """Remove the follows between two accounts, both ways (issued by a policy)."""

    account_id: UUID
    other_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class SeverAllFollows(PolicyCommand):
    """Remove every follow in and out of an account (issued by a policy): at
    once when they fit in one batch, otherwise by scheduling batches."""

    account_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class SeverFollowBatch(PolicyCommand):
    """Remove the follows in and out of an account whose row ids run from
    ``first_follow`` to ``last_follow`` (issued by a policy, one per
    ``FollowBatchScheduled``). With ``batch_starts``, the range holds
    several batches starting at those row ids: they are scheduled, in
    parts or groups of parts, without reading a follow."""

    account_id: UUID
    reason: str
    first_follow: int
    last_follow: int
    batch_starts: tuple[int, ...] = ()
