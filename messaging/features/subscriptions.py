"""Where each policy starts reading the log, replaying it on purpose, and
the sweep that catches what a previous release wrote during a deploy.

A policy is owed a delivery for every event of its type stored after its
subscription's start, which for a new policy is the end of the log: the
past is replayed only when an operator asks (``replay``). See
docs/architecture.md, "Where each policy starts: subscriptions, replay,
the sweep".
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from .. import store
from ..conf import conf
from ..models import Delivery, StoredEvent, Subscription
from ..registry import Policy, Projection, registry


class ReplayRefused(Exception):
    """The replay would do something its operator must ask for explicitly."""


def start_new() -> list[str]:
    """Give every registered policy without a subscription one that starts
    after the last event stored now; the names of those started."""
    known = set(Subscription.objects.values_list("name", flat=True))
    new = [name for name in registry.policies if name not in known]
    if new:
        end = StoredEvent.objects.aggregate(end=Max("position"))["end"] or 0
        Subscription.objects.bulk_create(
            [Subscription(name=name, starts_after=end, swept_to=end) for name in new], ignore_conflicts=True
        )
    return new


def start_new_after_migrate(**kwargs) -> None:
    """``post_migrate`` receiver: a deploy starts the policies it brings."""
    start_new()


def starts() -> dict[str, int]:
    """Each subscribed policy's start mark (a policy without one is owed all history)."""
    return dict(Subscription.objects.values_list("name", "starts_after"))


def missing(policy: Policy, after: int = 0):
    """Events of ``policy``'s type stored after position ``after`` that have
    no delivery for it, oldest first."""
    return (
        StoredEvent.objects.filter(type=policy.event_type.type_name(), position__gt=after)
        .exclude(Exists(Delivery.objects.filter(event=OuterRef("event_id"), policy=policy.name)))
        .order_by("position")
    )


def replay(
    name: str,
    *,
    after: int = 0,
    batch: int = 500,
    dry_run: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Open the deliveries ``name`` is missing for events after position
    ``after``, ``batch`` events per transaction, and move its start back to
    ``after`` (first, so that until the replay has finished
    ``check_invariants`` lists what is still missing). Returns how many were
    (or, with ``dry_run``, would be) opened; ``progress(done, total)`` after
    each batch. A policy with an outside effect (mail) is only replayed with
    ``force``: its effects would reach people again; so is a range reaching
    before the mark retention pruned to (``pruned_to``): the ledger no
    longer knows which of those events the policy handled, and it would
    handle them again."""
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
            store.open_deliveries(policy, [event_id for _, event_id in found])
        done, last = done + len(found), found[-1][0]
        progress(done, total)


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
    process which did not know the policy failed to open; how many."""
    opened = 0
    safe = timezone.now() - timedelta(seconds=conf.MESSAGING_SWEEP_SAFETY_SECONDS)
    for subscription in Subscription.objects.all():
        policy = registry.policies.get(subscription.name)
        if policy is None:
            continue  # retired from the code: nothing to deliver it to
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
