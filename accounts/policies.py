"""Consequences of accounts events, run after the event's transaction commits."""

from .commands import SeverAllFollows, SeverFollows
from .events import AccountBlocked, AccountDeactivated


def remove_follows_on_block(event: AccountBlocked):
    """A block ends the follows between the two accounts, both ways."""
    return [SeverFollows(account_id=event.blocker_id, other_id=event.blocked_id, reason="blocked")]


def remove_follows_on_deactivation(event: AccountDeactivated):
    """A deactivated account neither follows nor is followed."""
    return [SeverAllFollows(account_id=event.account_id, reason="account_deactivated")]
