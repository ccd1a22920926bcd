"""Read side of the accounts context, for interfaces and other contexts."""

from dataclasses import dataclass
from uuid import UUID

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from .models import Account, Block, Follow


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


def _count(rows, field: str):
    """How many ``rows`` point at the outer account through ``field``, as one subquery."""
    counted = rows.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def with_counts(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """``accounts`` with ``followers_count`` and ``following_count``, counted in the same query."""
    return accounts.annotate(
        followers_count=_count(Follow.objects.all(), "followee"),
        following_count=_count(Follow.objects.all(), "follower"),
    )


def directory(search: str = "") -> QuerySet[Account]:
    """Active accounts whose username contains ``search``, by username, with counts."""
    accounts = Account.objects.filter(is_active=True)
    if search:
        accounts = accounts.filter(username__icontains=search)
    return with_counts(accounts).order_by("username")


def profile(username: str) -> Account | None:
    """The account named ``username`` (any case), with its counts; ``None`` if none."""
    return with_counts(Account.objects.filter(username__iexact=username)).first()


def followers(account_id: UUID) -> QuerySet[Account]:
    """Who follows the account, most recent first, with counts."""
    return with_counts(Account.objects.filter(following_set__followee_id=account_id)).order_by(
        "-following_set__created_at", "username"
    )


def following(account_id: UUID) -> QuerySet[Account]:
    """Whom the account follows, most recent first, with counts."""
    return with_counts(Account.objects.filter(follower_set__follower_id=account_id)).order_by(
        "-follower_set__created_at", "username"
    )


@dataclass(frozen=True)
class Relationship:
    """Between a viewer and another account, seen from the viewer's side."""

    following: bool = False
    followed_by: bool = False
    blocking: bool = False
    blocked_by: bool = False


def relationship(viewer_id: UUID, other_id: UUID) -> Relationship:
    """Follows and blocks both ways between two accounts, in two queries."""
    pair = Q(follower_id=viewer_id, followee_id=other_id) | Q(follower_id=other_id, followee_id=viewer_id)
    follows = set(Follow.objects.filter(pair).values_list("follower_id", flat=True))
    pair = Q(blocker_id=viewer_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=viewer_id)
    blocks = set(Block.objects.filter(pair).values_list("blocker_id", flat=True))
    return Relationship(
        following=viewer_id in follows,
        followed_by=other_id in follows,
        blocking=viewer_id in blocks,
        blocked_by=other_id in blocks,
    )


def username_of(account_id: OuterRef) -> Subquery:
    """The username of the account ``account_id`` names (e.g. ``OuterRef("customer_id")``),
    as a subquery other contexts annotate their rows with."""
    return Subquery(Account.objects.filter(pk=account_id).values("username")[:1])
