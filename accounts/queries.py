"""Read side of the accounts context, for interfaces and other contexts.

Every account read for display carries ``followers_count`` and
``following_count``, read from the ``AccountStats`` projection in the same
query, so a page of accounts costs one query whatever its size or the
graph's.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from uuid import UUID

from django.db import connection
from django.db.models import Case, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from messaging import sql
from messaging.models import StoredEvent

from .events import AccountForgotten
from .models import Account, Block, Follow


@dataclass(frozen=True)
class Relationship:
    """How one account stands towards another, seen from the first."""

    following: bool
    followed_by: bool
    blocking: bool
    blocked_by: bool


def account_id_for_username(username: str) -> UUID:
    """The id of the account with this username (any case); ``LookupError`` if none."""
    account_id = Account.objects.filter(username__lower=username.lower()).values_list("pk", flat=True).first()
    if account_id is None:
        raise LookupError(f"no account is named {username!r}")
    return account_id


def usernames(account_ids: set[UUID]) -> dict[UUID, str]:
    """The username of each of ``account_ids`` that is an account, in one query."""
    return dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "username"))


@dataclass(frozen=True)
class AccountSummary:
    account_id: UUID
    username: str
    email: str
    is_active: bool
    is_staff: bool
    email_verified: bool = True


def account_summary(account_id: UUID) -> AccountSummary | None:
    """Who an account is (for other contexts: an order's customer, who may act on it), or ``None``."""
    row = sql.get(Account, account_id)  # read by every order and its every mail: a statement built once
    return None if row is None else summary_of(row)


def summary_of(row: Account) -> AccountSummary:
    """The summary of an account row already read (the request's authenticated user)."""
    return AccountSummary(row.pk, row.username, row.email, row.is_active, row.is_staff, row.email_verified)


def account_exists(account_id: UUID) -> bool:
    return Account.objects.filter(pk=account_id).exists()


def account(account_id: UUID) -> Account | None:
    """One account with its counts, or ``None``."""
    return _with_counts(Account.objects.filter(pk=account_id)).first()


def search_accounts(text: str = "") -> QuerySet[Account]:
    """Accounts whose username contains ``text`` (any case), those starting
    with it first, then by username; every account when ``text`` is empty."""
    accounts = Account.objects.order_by("username")
    if text:
        accounts = (
            accounts.filter(username__icontains=text)
            .annotate(rank=Case(When(username__istartswith=text, then=Value(0)), default=Value(1)))
            .order_by("rank", "username")
        )
    return _with_counts(accounts)


def followers_of(account_id: UUID) -> QuerySet[Account]:
    """The accounts following ``account_id``, by username."""
    return _with_counts(Account.objects.filter(following_set__followee_id=account_id).order_by("username"))


def followed_by(account_id: UUID) -> QuerySet[Account]:
    """The accounts ``account_id`` follows, by username."""
    return _with_counts(Account.objects.filter(follower_set__follower_id=account_id).order_by("username"))


def relationship(viewer_id: UUID, other_id: UUID) -> Relationship | None:
    """How ``viewer_id`` stands towards ``other_id`` (one query: four
    ``EXISTS`` on the pair indexes); ``None`` if ``other_id`` names no
    account. Its SQL is built once (``_relationship_sql``): every follow,
    block and unblock answers with it, and the ORM compiling its four
    subqueries anew took longer than the database running them."""
    prepare = sql.preparer(Account._meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(_relationship_sql(connection.vendor), {"viewer": prepare(viewer_id), "other": prepare(other_id)})
        row = cursor.fetchone()
    return Relationship(*(bool(value) for value in row)) if row else None


@cache
def _relationship_sql(vendor: str) -> str:
    quote = connection.ops.quote_name

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    def exists(model, first: str, second: str, *, of: str, to: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} "
            f"WHERE {column(model, first)} = %({of})s AND {column(model, second)} = %({to})s)"
        )

    return (
        f"SELECT {exists(Follow, 'follower', 'followee', of='viewer', to='other')}, "
        f"{exists(Follow, 'follower', 'followee', of='other', to='viewer')}, "
        f"{exists(Block, 'blocker', 'blocked', of='viewer', to='other')}, "
        f"{exists(Block, 'blocker', 'blocked', of='other', to='viewer')} "
        f"FROM {quote(Account._meta.db_table)} WHERE {column(Account, 'id')} = %(other)s"
    )


def _with_counts(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Each account with its counts from the projection (one join; no row reads as 0)."""
    return accounts.annotate(
        followers_count=Coalesce("stats__followers_count", 0), following_count=Coalesce("stats__following_count", 0)
    )


def directory(search: str = "") -> QuerySet[Account]:
    """``search_accounts``, active accounts only: the people directory."""
    return search_accounts(search).filter(is_active=True)


def profile(username: str) -> Account | None:
    """The account named ``username`` (any case), with its counts; ``None`` if none."""
    return _with_counts(Account.objects.filter(username__lower=username.lower())).first()


def username_of(account_id: OuterRef) -> Subquery:
    """The username of the account ``account_id`` names (e.g. ``OuterRef("customer_id")``),
    as a subquery other contexts annotate their rows with."""
    return Subquery(Account.objects.filter(pk=account_id).values("username")[:1])


def with_counts(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """``accounts``, each with ``followers_count`` and ``following_count`` (for the admin's lists)."""
    return _with_counts(accounts)


# --- The right of access (``messaging.access``) -------------------------------
# A person's export names the others they follow, are followed by or block by
# id and date only: another person's username is that person's data, which
# one person's export must not hand out (and which they may have had forgotten).
# Who blocks the person is left out: it is the blocker's act, not theirs.


def personal_profile(account_id: UUID) -> dict | None:
    """What the account row keeps about its person; ``None`` if there is none."""
    return (
        Account.objects.filter(pk=account_id)
        .values("id", "username", "email", "date_joined", "is_active", "is_staff")
        .first()
    )


def personal_following(account_id: UUID) -> list[dict]:
    """The accounts ``account_id`` follows, by id, with since when, oldest first."""
    return _personal_edges(Follow.objects.filter(follower_id=account_id), other="followee_id")


def personal_followers(account_id: UUID) -> list[dict]:
    """The accounts following ``account_id``, by id, with since when, oldest first."""
    return _personal_edges(Follow.objects.filter(followee_id=account_id), other="follower_id")


def personal_blocking(account_id: UUID) -> list[dict]:
    """The accounts ``account_id`` blocks, by id, with since when, oldest first."""
    return _personal_edges(Block.objects.filter(blocker_id=account_id), other="blocked_id")


def _personal_edges(edges: QuerySet, *, other: str) -> list[dict]:
    rows = edges.order_by("created_at", "pk").values_list(other, "created_at").iterator(chunk_size=2000)
    return [{"account_id": account_id, "since": since} for account_id, since in rows]


def forgotten_since(moment: datetime) -> list[UUID]:
    """The accounts forgotten at or after ``moment``, in the order they were
    (their ``AccountForgotten`` events): whom to forget again in a database
    restored from a backup older than that."""
    payloads = (
        StoredEvent.objects.filter(type=AccountForgotten.type_name(), occurred_at__gte=moment)
        .order_by("position")
        .values_list("payload", flat=True)
    )
    return list(dict.fromkeys(UUID(payload["account_id"]) for payload in payloads))
