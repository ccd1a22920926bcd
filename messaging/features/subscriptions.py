"""Where each policy starts reading the log, replaying it on purpose, and
the sweep that catches what a previous release wrote during a deploy.

A policy is owed a delivery for every event of its type stored after its
subscription's start, which for a new policy is the end of the log: the
past is replayed only when an operator asks (``replay``). See
docs/architecture.md, "Where each policy starts: subscriptions, replay,
the sweep".
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import store
from ..conf import conf
from ..models import Delivery, StoredEvent, Subscription
from ..registry import OpenRows, Policy, Projection, registry

logger = logging.getLogger("messaging.subscriptions")


class ReplayRefused(Exception):
    """The replay would do something its operator must ask for explicitly."""


def start_new() -> list[str]:
    """Give every registered policy without a subscription one that starts
    after the last event stored now, or, for a policy renamed (``aliases``),
    where its old name's subscription stood; the names of those started.
    Then record each policy's aliases on its subscription, so that every
    release's sweep counts the rows of any of its names as its own
    (``names_of``), and apply the declared retirements. Reads only the
    columns it needs when there is nothing to rename or retire (``migrate``
    runs it at every state a migration test visits)."""
    known = set(Subscription.objects.values_list("name", flat=True))
    new = [policy for policy in registry.policies.values() if policy.name not in known]
    if new:
        end = StoredEvent.objects.aggregate(end=Max("position"))["end"] or 0
        renamed_from = sorted({alias for policy in new for alias in policy.aliases if alias in known})
        marks = {
            name: (starts_after, swept_to, pruned_to)
            for name, starts_after, swept_to, pruned_to in Subscription.objects.filter(
                name__in=renamed_from
            ).values_list("name", "starts_after", "swept_to", "pruned_to")
        }
        Subscription.objects.bulk_create([_started(policy, marks, end) for policy in new], ignore_conflicts=True)
    record_aliases()
    apply_retirements()
    return [policy.name for policy in new]


def _started(policy: Policy, marks: dict[str, tuple[int, int, int]], end: int) -> Subscription:
    """A new policy's subscription: from its old names' marks when it had any."""
    before = [marks[alias] for alias in policy.aliases if alias in marks]
    if not before:
        return Subscription(name=policy.name, starts_after=end, swept_to=end, aliases=list(policy.aliases))
    return Subscription(
        name=policy.name,
        starts_after=min(starts_after for starts_after, _, _ in before),
        swept_to=min(swept_to for _, swept_to, _ in before),
        pruned_to=max(pruned_to for _, _, pruned_to in before),
        aliases=list(policy.aliases),
    )


def record_aliases() -> None:
    """Add each registered policy's aliases to its subscription's (never
    removing one: a process of the previous release may still write it)."""
    renamed = [name for name, policy in registry.policies.items() if policy.aliases]
    if not renamed:
        return
    recorded = dict(Subscription.objects.filter(name__in=renamed).values_list("name", "aliases"))
    for name, aliases in recorded.items():
        wanted = sorted(set(aliases or ()) | set(registry.policies[name].aliases))
        if wanted != sorted(aliases or ()):
            Subscription.objects.filter(name=name).update(aliases=wanted)


def names_of(policy: Policy) -> set[str]:
    """Every name ``policy``'s deliveries may be stored under: its own, its
    aliases, and, from the subscriptions, the names a release has renamed
    it to or from (so a release that does not know a rename still counts
    the rows of the other name as delivered, and opens no second one)."""
    names = set(policy.names)
    recorded = list(Subscription.objects.values_list("name", "aliases"))
    grew = True
    while grew:
        grew = False
        for name, aliases in recorded:
            family = {name, *(aliases or ())}
            if family & names and not family <= names:
                names |= family
                grew = True
    return names


def apply_retirements() -> int:
    """Settle or discard the open rows of every retired policy, as its
    retirement says, and close its subscription; how many rows. A row a
    worker holds right now (leased, the lease not run out) is left to it:
    the next sweep settles it if it is still open then."""
    settled = 0
    for retirement in registry.retired.values():
        status = Delivery.Status.SKIPPED if retirement.open_rows == OpenRows.SETTLE else Delivery.Status.DISCARDED
        free = Q(lease=None) | Q(next_attempt_at__lte=Now())
        count = Delivery.objects.filter(free, policy=retirement.name, status__in=Delivery.OPEN).update(
            status=status,
            last_error=retirement.reason,
            lease=None,
            delivered_at=Now() if status == Delivery.Status.SKIPPED else None,
        )
        closed = Subscription.objects.filter(name=retirement.name, retired_at=None).update(retired_at=Now())
        if count or closed:
            logger.warning("%s: %d open deliveries %s", retirement.reason, count, status)
        settled += count
    return settled


def start_new_after_migrate(**kwargs) -> None:
    """``post_migrate`` receiver: a deploy starts the policies it brings,
    records their renames, and applies its retirements."""
    start_new()


def starts() -> dict[str, int]:
    """Each subscribed policy's start mark (a policy without one is owed all history)."""
    return dict(Subscription.objects.values_list("name", "starts_after"))


def missing(policy: Policy, after: int = 0):
    """Events of ``policy``'s type stored after position ``after`` that have
    no delivery for it under any of its names (``names_of``), oldest first."""
    names = sorted(names_of(policy))
    return (
        StoredEvent.objects.filter(type=policy.event_type.type_name(), position__gt=after)
        .exclude(Exists(Delivery.objects.filter(event=OuterRef("event_id"), policy__in=names)))
        .order_by("position")
    )


def replay(
    name: str,
    *,
    after: int = 0,
    batch: int = 500,
    dry_run: bool = False,
    force: bool = False,
    live: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Open the deliveries ``name`` is missing for events after position
    ``after``, ``batch`` events per transaction, and move its start back to
    ``after`` (first, so that until the replay has finished
    ``check_invariants`` lists what is still missing). Returns how many were
    (or, with ``dry_run``, would be) opened; ``progress(done, total)`` after
    each batch. They are opened in the lane ``replay_lane`` says: the
    backfill lane, which yields to live deliveries at a bounded rate
    (``delivery.lanes``), or the live lane, to be delivered as soon as what
    is waiting there now. A
    policy with an outside effect (mail) is only replayed with ``force``:
    its effects would reach people again; so is a range reaching before the
    mark retention pruned to (``pruned_to``): the ledger no longer knows
    which of those events the policy handled, and it would handle them
    again."""
    if name in registry.projections:
        raise ReplayRefused(
            f"{name} is a projection: it runs inside each event's transaction and has no deliveries to replay; "
            f"rebuild it from the log with rebuild_projections {name}"
        )
    policy = registry.policies.get(name)
    if policy is None:
        raise ReplayRefused(f"no policy or projection is named {name!r}; known: {', '.join(sorted(registry.policies))}")
    if policy.outside and not force:
        raise ReplayRefused(f"{name} has an outside effect (it mails people); replay it with --force if you mean it")
    pruned_to = Subscription.objects.filter(name=name).values_list("pruned_to", flat=True).first() or 0
    if after < pruned_to and not force:
        raise ReplayRefused(
            f"{name}'s settled deliveries were pruned up to #{pruned_to}: replaying from #{after + 1} would run it "
            f"again for events it already handled; replay from #{pruned_to + 1}, or with --force if you mean it"
        )
    total = missing(policy, after).count()
    if dry_run or not total:
        return total
    Subscription.objects.update_or_create(name=name, defaults={"starts_after": after})
    done, last = 0, after
    while True:
        with transaction.atomic(durable=True):
            found = list(missing(policy, last).values_list("position", "event_id")[:batch])
            if not found:
                return done
            store.open_deliveries(policy, [event_id for _, event_id in found], lane=replay_lane(policy, live=live))
        done, last = done + len(found), found[-1][0]
        progress(done, total)


def replay_lane(policy: Policy, *, live: bool = False) -> str | None:
    """The lane a replay of ``policy`` opens its deliveries in: the backfill
    lane, unless asked ``live``, or the policy keeps an order per key
    (``ordered_by``). A live delivery of a key waits for every earlier event
    of its key, replayed ones too; in the backfill lane it would wait on the
    backfill's pace (or for ever, the backfill paused)."""
    return None if live or policy.ordered_by is not None else Delivery.BACKFILL


def rebuild(
    projection: Projection, *, batch: int = 1000, progress: Callable[[int, int], None] = lambda done, total: None
) -> tuple[int, int | None]:
    """Rebuild a projection from the log: ``reset`` it, then run every event
    of its types through its projectors, oldest first, ``batch`` events per
    transaction. Returns the events replayed and, when the projection can
    show its figures, how many of them changed. A command committing
    meanwhile projects its events as well, so they may count twice: rebuild
    while nothing writes."""
    before = projection.snapshot() if projection.snapshot else None
    by_type = {event_type.type_name(): project for event_type, project in projection.projectors.items()}
    events = StoredEvent.objects.filter(type__in=by_type).order_by("position")
    total = events.count()
    with transaction.atomic(durable=True):
        projection.reset()
    done, last = 0, 0
    while rows := list(events.filter(position__gt=last)[:batch]):
        with transaction.atomic(durable=True):
            for row in rows:
                by_type[row.type](store.load(row))
        done, last = done + len(rows), rows[-1].position
        progress(done, total)
    if before is None:
        return done, None
    after = projection.snapshot()
    return done, sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def sweep(limit: int = 1000) -> int:
    """Open the deliveries owed since each subscription's start that a
    process which did not know the policy failed to open; how many. First
    the declared retirements settle what a process of the previous release
    opened for a retired policy (``apply_retirements``)."""
    record_aliases()
    apply_retirements()
    opened = 0
    safe = timezone.now() - timedelta(seconds=conf.MESSAGING_SWEEP_SAFETY_SECONDS)
    for subscription in Subscription.objects.filter(retired_at=None):
        policy = registry.policies.get(subscription.name)
        if policy is None:
            continue  # removed from the code (or only an alias now): nothing to deliver it to
        after = max(subscription.starts_after, subscription.swept_to)
        with transaction.atomic(durable=True):
            found = list(missing(policy, after).values_list("event_id", flat=True)[:limit])
            if found:
                store.open_deliveries(policy, found)
            settled = StoredEvent.objects.filter(
                type=policy.event_type.type_name(), position__gt=after, occurred_at__lt=safe
            ).aggregate(end=Max("position"))["end"]
            if settled and len(found) < limit:
                Subscription.objects.filter(pk=subscription.pk).update(swept_to=settled)
        opened += len(found)
    return opened
