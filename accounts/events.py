"""Facts of the accounts context: the context's public contract."""

from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from messaging.messages import Event, Rejection
from messaging.personal import personal


@dataclass(frozen=True, kw_only=True)
class AccountRegistered(Event):
    """A person opened an account; their e-mail and username are their
    personal data, stored sealed under their key. v1 stored them in clear
    (the migration ``accounts.0005`` sealed every v1 row)."""

    version: ClassVar[int] = 2

    account_id: UUID
    email: str = personal(of="account_id")
    username: str = personal(of="account_id")


@dataclass(frozen=True, kw_only=True)
class SignUpWithTakenEmail(Event):
    """Someone signed up with the address of ``account_id``: no account was
    made, the answer was the same as a new one's, and the address's owner
    is told by mail (it may have been them, who forgot)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class SignUpAttemptMailed(Event):
    """The owner of ``account_id`` is told by mail of a sign-up with their address."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class SignUpAttemptMailWithheld(Event):
    """A sign-up used the address of ``account_id``, whose inbox had
    ``mails_in_window`` such mails within the window already
    (``SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT`` per ``MAIL_CAP_WINDOW_SECONDS``):
    none is sent, so sign-ups from many addresses flood nobody."""

    account_id: UUID
    mails_in_window: int


@dataclass(frozen=True, kw_only=True)
class VerificationLinkRequested(Event):
    """The owner of an unverified account asked for another verification link."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class EmailVerified(Event):
    """The account's owner followed the link mailed to its address: it is theirs."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class PasswordResetAsked(Event):
    """Someone asked for a reset link for ``email``, whether or not an
    account uses it: recorded the same way for any address, so the request
    does the same work for all (a policy finds the account later). The
    address is sealed under the request's own key, thrown away once the
    policy has read it."""

    request_id: UUID
    email: str = personal(of="request_id")


@dataclass(frozen=True, kw_only=True)
class PasswordResetMailWithheld(Event):
    """A reset link was owed to the account, but its inbox had
    ``mails_in_window`` reset mails within the window already
    (``PASSWORD_RESET_MAILS_PER_RECIPIENT`` per
    ``MAIL_CAP_WINDOW_SECONDS``): none is sent. The requester got
    the same answer as any other."""

    account_id: UUID
    mails_in_window: int


@dataclass(frozen=True, kw_only=True)
class PasswordResetRequested(Event):
    """The account's owner asked for a reset link. Only the id: the link's
    token is written into the mail when it is sent, never stored."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(Event):
    """The account has a new password (which no event carries, nor its hash)."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class StaffGranted(Event):
    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class AccountFollowed(Event):
    follower_id: UUID
    followee_id: UUID


@dataclass(frozen=True, kw_only=True)
class FollowRemoved(Event):
    """A follow ended. ``reason``: ``unfollowed``, ``follower_removed``,
    ``blocked`` or ``account_deactivated``."""

    follower_id: UUID
    followee_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class FollowBatchScheduled(Event):
    """Part of severing every follow of an account, left to a delivery of
    its own: the follows in or out of ``account_id`` whose row ids run from
    ``first_follow`` to ``last_follow``. When the part holds several
    batches, ``batch_starts`` gives the row id each starts at (the first is
    ``first_follow``), so its delivery schedules them without reading a
    follow; empty for one batch. v1 had no ``batch_starts``: its delivery
    reads the range and splits it again."""

    version: ClassVar[int] = 2

    account_id: UUID
    reason: str
    first_follow: int
    last_follow: int
    batch_starts: tuple[int, ...] = ()


def registration_sealed_by_migration(payload: dict) -> dict:
    """A v1 registration kept its e-mail and username in clear; the migration
    that sealed the history rewrote every one it found (``accounts.sealing``),
    and ``check_invariants`` reports any left, which ``manage.py
    seal_personal_data`` seals. Read as it is, a clear value opens as the
    placeholder: it is never shown as if it were sealed."""
    return payload


def follow_batch_with_no_starts(payload: dict) -> dict:
    """Upcast a v1 ``FollowBatchScheduled`` (stored before parts carried the
    starts of their batches): none known, so its delivery reads its range."""
    return {**payload, "batch_starts": []}


@dataclass(frozen=True, kw_only=True)
class FollowsSevered(Event):
    """A batch of follows in and out of ``account_id`` ended, for ``reason``
    (``account_deactivated``): ``followers`` no longer follow it, and it no
    longer follows ``followees``."""

    account_id: UUID
    reason: str
    followers: tuple[UUID, ...]
    followees: tuple[UUID, ...]


@dataclass(frozen=True, kw_only=True)
class AccountBlocked(Event):
    blocker_id: UUID
    blocked_id: UUID


@dataclass(frozen=True, kw_only=True)
class AccountUnblocked(Event):
    blocker_id: UUID
    blocked_id: UUID


@dataclass(frozen=True, kw_only=True)
class AccountDeactivated(Event):
    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class AccountForgotten(Event):
    """The account's person was forgotten: its e-mail and username are
    placeholders now, and its data key is gone, so every sealed copy of its
    data reads as a placeholder. The event carries neither, of course."""

    account_id: UUID


@dataclass(frozen=True, kw_only=True)
class RegistrationRejected(Rejection):
    pass


@dataclass(frozen=True, kw_only=True)
class FollowRejected(Rejection):
    pass


@dataclass(frozen=True, kw_only=True)
class BlockRejected(Rejection):
    pass


@dataclass(frozen=True, kw_only=True)
class AccountCommandRejected(Rejection):
    """Any other accounts command refused (unfollow, unblock, deactivate...)."""
