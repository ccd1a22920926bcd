"""The follower and following counts (``AccountStats``), projected inline
from the follow events.

The event store runs these projectors inside the transaction that appends
each event (``registry.register_projection`` in ``wiring.py``), so the
counts commit with the follows they count: no delivery, no transaction of
their own. They write their rows directly instead of issuing commands: the
counts are the read side, derived from facts recorded in the same
transaction, with no rule to check and no fact of their own to add to the
log. A projector that raises fails the command that appended its event.

Each takes the counts rows it moves in account-id order, so that two
transactions moving the same accounts' counts (alice follows bob while bob
follows alice) queue for the first row instead of each holding a row the
other waits for.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import batched
from uuid import UUID

from django.db.models import Count, F, Q

from messaging.messages import Event

from .events import AccountFollowed, AccountRegistered, FollowRemoved, FollowsSevered
from .models import Account, AccountStats, Follow


def open_stats(event: AccountRegistered) -> None:
    """A new account's counts start at zero; a row already there (the
    projector run twice over one event by a rebuild racing the command) is
    left as it is."""
    AccountStats.objects.bulk_create([AccountStats(account_id=event.account_id)], ignore_conflicts=True)


def count_follow(event: AccountFollowed) -> None:
    _move_pair(event.follower_id, event.followee_id, 1)


def count_unfollow(event: FollowRemoved) -> None:
    _move_pair(event.follower_id, event.followee_id, -1)


def count_severed(event: FollowsSevered) -> None:
    """A batch of follows ends: the counts move once for the whole batch (a
    few statements over at most a batch of rows, and the account's own)."""
    touched = {event.account_id, *event.followers, *event.followees}
    counted = set(
        AccountStats.objects.select_for_update()
        .filter(account_id__in=touched)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )
    AccountStats.objects.bulk_create([AccountStats(account_id=account_id) for account_id in touched - counted])
    AccountStats.objects.filter(account_id=event.account_id).update(
        followers_count=F("followers_count") - len(event.followers),
        following_count=F("following_count") - len(event.followees),
    )
    AccountStats.objects.filter(account_id__in=event.followers).update(following_count=F("following_count") - 1)
    AccountStats.objects.filter(account_id__in=event.followees).update(followers_count=F("followers_count") - 1)


def _move_pair(follower_id: UUID, followee_id: UUID, step: int) -> None:
    """Move a follow's two counts, the follower's following and the
    followee's followers, one UPDATE each, in account-id order."""
    for account_id, column in sorted([(follower_id, "following_count"), (followee_id, "followers_count")]):
        _move(account_id, column, step)


def _move(account_id: UUID, column: str, step: int) -> None:
    """Add ``step`` to one of an account's counts; a missing row (an account
    made by ``createsuperuser``) starts from zero."""
    if not AccountStats.objects.filter(account_id=account_id).update(**{column: F(column) + step}):
        AccountStats.objects.bulk_create([AccountStats(account_id=account_id)], ignore_conflicts=True)
        AccountStats.objects.filter(account_id=account_id).update(**{column: F(column) + step})


def replay(events: list[Event]) -> None:
    """The projectors' effect over a batch of events, for a rebuild into
    its own copy: each account's counts move once, by the sum of the
    batch's steps (``move_counts``), instead of one UPDATE per count per
    follow."""
    opened, steps = [], defaultdict(lambda: [0, 0])  # account -> [followers, following]
    for event in events:
        match event:
            case AccountRegistered():
                opened.append(event.account_id)
            case AccountFollowed():
                steps[event.follower_id][1] += 1
                steps[event.followee_id][0] += 1
            case FollowRemoved():
                steps[event.follower_id][1] -= 1
                steps[event.followee_id][0] -= 1
            case FollowsSevered():
                steps[event.account_id][0] -= len(event.followers)
                steps[event.account_id][1] -= len(event.followees)
                for follower_id in event.followers:
                    steps[follower_id][1] -= 1
                for followee_id in event.followees:
                    steps[followee_id][0] -= 1
    move_counts({account_id: tuple(step) for account_id, step in steps.items()}, opened=opened)


def move_counts(steps: dict[UUID, tuple[int, int]], *, opened: Iterable[UUID] = (), chunk: int = 5000) -> None:
    """Add (followers, following) to each account's counts, one UPDATE per
    distinct step (a batch of follows has few: most accounts move by one or
    two) over at most ``chunk`` accounts; an account without a row gets one
    starting from zero, as do the ``opened`` ones. For rows nobody else
    writes meanwhile (a rebuild's copy, a seeding batch): the rows are not
    taken in account-id order."""
    by_step, to_open = defaultdict(list), set(opened)
    for account_id, step in steps.items():
        if step == (0, 0):
            to_open.add(account_id)  # its steps cancelled out: the projectors would still have opened its row
        else:
            by_step[step].append(account_id)
    AccountStats.objects.bulk_create(
        [AccountStats(account_id=account_id) for account_id in to_open], ignore_conflicts=True
    )
    for (followers, following), account_ids in by_step.items():
        for accounts in batched(account_ids, chunk, strict=False):
            moved = AccountStats.objects.filter(account_id__in=accounts).update(
                followers_count=F("followers_count") + followers, following_count=F("following_count") + following
            )
            if moved < len(accounts):  # an account made by ``createsuperuser``: no row yet
                counted = set(AccountStats.objects.filter(account_id__in=accounts).values_list("pk", flat=True))
                AccountStats.objects.bulk_create(
                    AccountStats(account_id=account_id, followers_count=followers, following_count=following)
                    for account_id in accounts
                    if account_id not in counted
                )


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
