"""The only code that reads or writes accounts rows for the write side."""

from datetime import datetime
from functools import cache
from uuid import UUID

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging import sql
from messaging.models import StoredEvent

from . import tokens
from .events import PasswordResetRequested, SignUpAttemptMailed
from .models import Account, AccountStats, Block, Follow
from .rules import FollowFacts, Taken


class DuplicateAccount(Exception):
    """The e-mail or username is already taken (possibly by a concurrent registration)."""


def get(account_id: UUID) -> Account | None:
    return sql.get(Account, account_id)


def lock(account_id: UUID) -> Account | None:
    """The account, its row locked until the transaction ends."""
    return sql.get(Account, account_id, lock=True)


def lock_pair(first_id: UUID, second_id: UUID) -> tuple[Account | None, Account | None]:
    """Both accounts, their rows locked in id order.

    Every command touching two accounts locks them through here, always in
    the same order, so two such commands on one pair queue up instead of
    interleaving or deadlocking (a follow can never slip past a block).
    """
    locked = sql.get_many(Account, [first_id, second_id], lock=True)
    return locked.get(first_id), locked.get(second_id)


def by_email(email: str) -> Account | None:
    """The account that uses this address (unique regardless of case)."""
    return Account.objects.filter(email__lower=email.lower()).first()


def reset_links_since(account_id: UUID, since: datetime) -> int:
    """How many reset links were owed to the account since ``since`` (each
    one mailed): its ``PasswordResetRequested`` facts, read from the log."""
    return _facts_since(PasswordResetRequested, account_id, since)


def sign_up_attempt_mails_since(account_id: UUID, since: datetime) -> int:
    """How many "someone tried to sign up" mails the account was sent since ``since``."""
    return _facts_since(SignUpAttemptMailed, account_id, since)


def _facts_since(event_type, account_id: UUID, since: datetime) -> int:
    return StoredEvent.objects.filter(
        type=event_type.type_name(), payload__account_id=str(account_id), occurred_at__gte=since
    ).count()


def taken_by(email: str, username: str) -> Taken:
    """Who uses the e-mail and whether the username is used, whatever their
    case (one query on the two ``LOWER`` unique indexes, its SQL built once:
    every registration asks)."""
    with connection.cursor() as cursor:
        cursor.execute(_taken_sql(connection.vendor), {"email": email.lower(), "username": username.lower()})
        rows = cursor.fetchall()
    owner = next((account_id for account_id, uses_email, _ in rows if uses_email), None)
    return Taken(
        email_owner=owner if owner is None or isinstance(owner, UUID) else UUID(str(owner)),
        username=any(uses_username for _, _, uses_username in rows),
    )


@cache
def _taken_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(Account._meta.db_table)
    pk, email, username = (quote(Account._meta.get_field(name).column) for name in ("id", "email", "username"))
    return (
        f"SELECT {pk}, LOWER({email}) = %(email)s, LOWER({username}) = %(username)s FROM {table} "
        f"WHERE LOWER({email}) = %(email)s OR LOWER({username}) = %(username)s"
    )


def add(*, account_id: UUID, email: str, username: str, password_hash: str, verified: bool = False) -> None:
    """Insert a new account, its address ``verified`` or not yet;
    ``DuplicateAccount`` if the unique indexes object."""
    verified = {"email_verified_at": timezone.now()} if verified else {}
    try:
        with transaction.atomic():  # a savepoint: the command goes on after a lost race
            Account.objects.create(id=account_id, email=email, username=username, password=password_hash, **verified)
    except IntegrityError as error:
        raise DuplicateAccount(username) from error


def save(account: Account, *fields: str) -> None:
    account.save(update_fields=list(fields))  # the ORM's: a user's save also tells the password validators


def remove_credentials_and_admin_log(account_id: UUID) -> None:
    """Delete the account's API tokens and the admin's log entries about it
    (their text names it). Its sessions end by themselves: each is bound to
    the password, which forgetting replaced."""
    tokens.revoke_all(account_id)
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Account), object_id=str(account_id)).delete()


def follow_facts(follower_id: UUID, followee_id: UUID) -> FollowFacts:
    """What the rules of following need to know of the pair; read after
    ``lock_pair``, so no follow or block of the pair changes meanwhile, and
    no new follow of the follower's adds to its count. The count is the one
    stored in ``AccountStats`` (moved in the transaction of every follow
    event, so it is the follows' own), not counted: a follow costs the same
    at 4,999 follows as at none. One query, its SQL built once
    (``_follow_facts_sql``): every follow asks it."""
    prepare = sql.preparer(Account._meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            _follow_facts_sql(connection.vendor), {"follower": prepare(follower_id), "followee": prepare(followee_id)}
        )
        blocked_one_way, blocked_other_way, following, count = cursor.fetchone()
    return FollowFacts(
        blocked=bool(blocked_one_way or blocked_other_way), following=bool(following), following_count=count
    )


@cache
def _follow_facts_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    follows, blocks, stats = (quote(model._meta.db_table) for model in (Follow, Block, AccountStats))
    follower, followee = (quote(Follow._meta.get_field(name).column) for name in ("follower", "followee"))
    blocker, blocked = (quote(Block._meta.get_field(name).column) for name in ("blocker", "blocked"))
    return (
        f"SELECT EXISTS (SELECT 1 FROM {blocks} WHERE {blocker} = %(follower)s AND {blocked} = %(followee)s), "
        f"EXISTS (SELECT 1 FROM {blocks} WHERE {blocker} = %(followee)s AND {blocked} = %(follower)s), "
        f"EXISTS (SELECT 1 FROM {follows} WHERE {follower} = %(follower)s AND {followee} = %(followee)s), "
        # an account without a stats row (made by createsuperuser) follows nobody
        f"COALESCE((SELECT {quote(AccountStats._meta.get_field('following_count').column)} FROM {stats} "
        f"WHERE {quote(AccountStats._meta.get_field('account').column)} = %(follower)s), 0)"
    )


def add_follow(follower_id: UUID, followee_id: UUID) -> None:
    Follow.objects.create(follower_id=follower_id, followee_id=followee_id)


def remove_follow(follower_id: UUID, followee_id: UUID) -> bool:
    """Delete the follow; ``True`` if there was one. Nothing refers to a
    follow, so this is the one DELETE the ORM would run, built once."""
    prepare = sql.preparer(Account._meta.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            _remove_follow_sql(connection.vendor), {"follower": prepare(follower_id), "followee": prepare(followee_id)}
        )
        return cursor.rowcount > 0


@cache
def _remove_follow_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    follower, followee = (quote(Follow._meta.get_field(name).column) for name in ("follower", "followee"))
    return f"DELETE FROM {quote(Follow._meta.db_table)} WHERE {follower} = %(follower)s AND {followee} = %(followee)s"


def follow_ids_of(account_id: UUID, first: int | None = None, last: int | None = None) -> list[int]:
    """The row ids of the follows in or out of the account, in order, from
    ``first`` to ``last`` when given."""
    follows = Follow.objects.filter(Q(follower_id=account_id) | Q(followee_id=account_id))
    if first is not None:
        follows = follows.filter(pk__gte=first)
    if last is not None:
        follows = follows.filter(pk__lte=last)
    return list(follows.order_by("pk").values_list("pk", flat=True))


def remove_follows(follow_ids: list[int]) -> list[tuple[UUID, UUID]]:
    """Delete these follows (a bounded batch); the (follower, followee) pairs
    of those that still existed. Their rows are locked first, so a
    concurrent unfollow of one of them either went before or finds it gone."""
    follows = Follow.objects.select_for_update().filter(pk__in=follow_ids)
    pairs = list(follows.values_list("pk", "follower_id", "followee_id"))
    Follow.objects.filter(pk__in=[pk for pk, _, _ in pairs]).delete()
    return [(follower, followee) for _, follower, followee in pairs]


def is_blocking(blocker_id: UUID, blocked_id: UUID) -> bool:
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


def add_block(blocker_id: UUID, blocked_id: UUID) -> None:
    Block.objects.create(blocker_id=blocker_id, blocked_id=blocked_id)


def remove_block(blocker_id: UUID, blocked_id: UUID) -> bool:
    deleted, _ = Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()
    return deleted > 0
