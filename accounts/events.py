"""Facts of the accounts context: the context's public contract."""

from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Event, Rejection


@dataclass(frozen=True, kw_only=True)
class AccountRegistered(Event):
    account_id: UUID
    email: str
    username: str


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
