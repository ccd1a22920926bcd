"""Read side of the accounts context, for interfaces and other contexts."""

from dataclasses import dataclass
from uuid import UUID

from .models import Account, AccountStats


def account_id_for_username(username: str) -> UUID:
    """The id of the account with this username (any case); ``LookupError`` if none."""
    account_id = Account.objects.filter(username__iexact=username).values_list("pk", flat=True).first()
    if account_id is None:
        raise LookupError(f"no account is named {username!r}")
    return account_id


@dataclass(frozen=True)
class AccountSummary:
    account_id: UUID
    username: str
    email: str
    is_active: bool
    is_staff: bool


def account_summary(account_id: UUID) -> AccountSummary | None:
    """Who an account is (for other contexts: an order's customer, who may act on it), or ``None``."""
    row = (
        Account.objects.filter(pk=account_id)
        .values_list("pk", "username", "email", "is_active", "is_staff")
        .first()
    )
    return AccountSummary(*row) if row else None


def follow_counts(account_id: UUID) -> tuple[int, int]:
    """(followers, following) of an account, from the projection: one row read,
    whatever the size of the graph. No row yet reads as none."""
    row = AccountStats.objects.filter(account_id=account_id).values_list("followers_count", "following_count").first()
    return row or (0, 0)
