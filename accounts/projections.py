"""The follower and following counts (``AccountStats``), projected from the
follow events.

The projector is subscribed like any policy, so the kernel runs it exactly
once per event, in the delivery's transaction: the counts move in the same
commit that marks the delivery done. It writes its rows directly instead of
issuing commands: the counts are the read side, derived from facts already
recorded, with no rule to check and no fact of their own to add to the log.
"""

from collections.abc import Iterable, Iterator
from uuid import UUID

from django.db.models import Count, F, Q

from .events import AccountFollowed, AccountRegistered, FollowRemoved, FollowsSevered
from .models import Account, AccountStats, Follow


def open_stats(event: AccountRegistered) -> None:
    AccountStats.objects.get_or_create(account_id=event.account_id)


def count_follow(event: AccountFollowed) -> None:
    _move(event.follower_id, following=1)
    _move(event.followee_id, followers=1)


def count_unfollow(event: FollowRemoved) -> None:
    _move(event.follower_id, following=-1)
    _move(event.followee_id, followers=-1)


def count_severed(event: FollowsSevered) -> None:
    """A batch of follows ends: the counts move once for the whole batch (a
    few statements over at most a batch of rows)."""
    touched = {event.account_id, *event.followers, *event.followees}
    # Locked in one order, so that two batches sharing accounts queue instead of deadlocking.
    counted = set(
        AccountStats.objects.select_for_update()
        .filter(account_id__in=touched)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )
    AccountStats.objects.bulk_create([AccountStats(account_id=account_id) for account_id in touched - counted])
    _move(event.account_id, followers=-len(event.followers), following=-len(event.followees))
    AccountStats.objects.filter(account_id__in=event.followers).update(following_count=F("following_count") - 1)
    AccountStats.objects.filter(account_id__in=event.followees).update(followers_count=F("followers_count") - 1)


def lock_counts(events: list[AccountFollowed | FollowRemoved | FollowsSevered]) -> None:
    """Lock the counts a batch of these events will move, in account order
    (the relay calls it before running the batch), so that workers sharing
    accounts queue for them instead of deadlocking."""
    touched = set()
    for event in events:
        if isinstance(event, FollowsSevered):
            touched.update((event.account_id, *event.followers, *event.followees))
        else:
            touched.update((event.follower_id, event.followee_id))
    list(
        AccountStats.objects.select_for_update().filter(account_id__in=touched).order_by("account_id").values_list("pk")
    )


def _move(account_id: UUID, *, followers: int = 0, following: int = 0) -> None:
    """Add to an account's counts; a missing row (an account made by
    ``createsuperuser``) starts from zero."""
    changes = {"followers_count": F("followers_count") + followers, "following_count": F("following_count") + following}
    if not AccountStats.objects.filter(account_id=account_id).update(**changes):
        AccountStats.objects.get_or_create(account_id=account_id)
        AccountStats.objects.filter(account_id=account_id).update(**changes)


def reset() -> None:
    """Empty the counts, before a rebuild: one DELETE (nothing refers to
    these rows, so Django deletes them without reading them first)."""
    AccountStats.objects.all().delete()


def snapshot() -> dict[UUID, tuple[int, int]]:
    """Every account's (followers, following) as projected."""
    return {
        account_id: (followers, following)
        for account_id, followers, following in AccountStats.objects.values_list(
            "account_id", "followers_count", "following_count"
        )
    }


def true_counts(account_ids: Iterable[UUID] | None = None) -> Iterator[tuple[UUID, int, int]]:
    """(account, followers, following) counted from the ``Follow`` rows."""
    accounts, follows = Account.objects.all(), Follow.objects.all()
    if account_ids is not None:
        account_ids = list(account_ids)
        accounts = accounts.filter(pk__in=account_ids)
        follows = follows.filter(Q(follower__in=account_ids) | Q(followee__in=account_ids))
    followers = dict(follows.values_list("followee").annotate(n=Count("id")).order_by())
    following = dict(follows.values_list("follower").annotate(n=Count("id")).order_by())
    for account_id in accounts.values_list("pk", flat=True).order_by().iterator(chunk_size=5000):
        yield account_id, followers.get(account_id, 0), following.get(account_id, 0)


def drift() -> Iterator[tuple[UUID, tuple[int, int], tuple[int, int]]]:
    """(account, projected counts, true counts) wherever they differ."""
    projected = snapshot()
    for account_id, followers, following in true_counts():
        if projected.get(account_id, (0, 0)) != (followers, following):
            yield account_id, projected.get(account_id, (0, 0)), (followers, following)


def recount(account_ids: Iterable[UUID]) -> None:
    """Set these accounts' counts from the ``Follow`` rows (for rows written
    outside the pipeline: test factories, bulk seeding)."""
    for account_id, followers, following in true_counts(account_ids):
        AccountStats.objects.update_or_create(
            account_id=account_id, defaults={"followers_count": followers, "following_count": following}
        )
