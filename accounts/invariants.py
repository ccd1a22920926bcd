"""Consistency rules of the social graph, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, OuterRef, Q

from messaging.models import PersonalDataKey, StoredEvent

from . import projections
from .events import AccountRegistered
from .models import Account, ApiToken, Block, Follow
from .sealing import FORGOTTEN_DOMAIN


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


def no_clear_copy_of_a_person() -> Iterator[str]:
    """Personal data is stored only sealed, so a forgotten person's is
    unreadable: no registration or mail of the clear formats is left
    (``manage.py seal_personal_data`` seals them), and a forgotten account
    has its key thrown away and no token or admin's log entry naming it.
    Checked by structure, not by searching text."""
    clear = StoredEvent.objects.filter(type=AccountRegistered.type_name(), version=1).count()
    clear += StoredEvent.objects.filter(type__in=["MailQueued", "RenderedMailQueued"], version=1).count()
    if clear:
        yield f"{clear} stored event(s) hold personal data in clear: run manage.py seal_personal_data"
    forgotten = Account.objects.filter(email__endswith=FORGOTTEN_DOMAIN).values_list("pk", flat=True)
    shredded = PersonalDataKey.objects.filter(forgotten_at__isnull=False, key__isnull=True)
    for account_id in forgotten.exclude(pk__in=shredded.values("subject")):
        yield f"account {account_id} was forgotten but its data key was not thrown away"
    for account_id in ApiToken.objects.filter(user__in=forgotten).values_list("user", flat=True).distinct():
        yield f"account {account_id} was forgotten but an API token of it remains"
    about = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Account))
    for object_id in about.filter(object_id__in=[str(pk) for pk in forgotten]).values_list("object_id", flat=True):
        yield f"account {object_id} was forgotten but the admin's log still names it"


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
