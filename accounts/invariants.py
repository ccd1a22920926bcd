"""Consistency rules of the social graph, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q

from . import projections
from .models import Block, Follow


def no_follow_across_a_block() -> Iterator[str]:
    """No follow exists between two accounts where either blocks the other."""
    blocks = Block.objects.filter(
        Q(blocker=OuterRef("follower"), blocked=OuterRef("followee"))
        | Q(blocker=OuterRef("followee"), blocked=OuterRef("follower"))
    )
    for follower, followee in Follow.objects.filter(Exists(blocks)).values_list("follower", "followee"):
        yield f"{follower} follows {followee} although there is a block between them"


def no_follow_of_an_inactive_account() -> Iterator[str]:
    """A deactivated account neither follows nor is followed."""
    inactive = Follow.objects.filter(Q(follower__is_active=False) | Q(followee__is_active=False))
    for follower, followee in inactive.values_list("follower", "followee"):
        yield f"{follower} follows {followee} although one of them is deactivated"


def follow_counts_match_the_follows() -> Iterator[str]:
    """The projected follower and following counts are those of the ``Follow``
    rows (once deliveries have settled)."""
    for account_id, projected, true in projections.drift():
        yield f"account {account_id}: counts (followers, following) are {projected}, the follows say {true}"


def accounts_over_the_follow_limit() -> Iterator[str]:
    """Accounts that follow more than ``FOLLOW_LIMIT``: a warning, not a
    violation. ``FollowAccount`` refuses a follow past the limit, so such an
    account followed within the limit of its day, and the limit was lowered
    since; it follows nobody more until it is under it. Nobody broke a rule,
    and failing here would fail every check after a lowering, so the
    operator is shown who is over it instead."""
    over = (
        Follow.objects.values("follower", "follower__username")
        .annotate(following=Count("id"))
        .filter(following__gt=settings.FOLLOW_LIMIT)
        .order_by("-following", "follower__username")
    )
    for row in over:
        yield (
            f"@{row['follower__username']} ({row['follower']}) follows {row['following']} accounts, "
            f"over FOLLOW_LIMIT={settings.FOLLOW_LIMIT}"
        )
