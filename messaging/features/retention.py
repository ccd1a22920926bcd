"""Pruning what the exactly-once ledger no longer needs, after a retention.

Idempotency records, settled schedules and settled deliveries older than
the retention go; events stay, being the audit log. A delivery goes only
once its policy's start mark has moved past its event (the mark first, in
its own transaction), so neither the invariant nor the sweep finds that
event owed again. See README.md, "Retention".
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Value
from django.db.models.functions import Coalesce, Greatest

from ..models import Delivery, IdempotentResponse, ProcessedCommand, ScheduledCommand, StoredEvent, Subscription
from ..registry import Policy, registry
from . import subscriptions

SETTLED = (Delivery.Status.DONE, Delivery.Status.SKIPPED, Delivery.Status.DISCARDED)
SETTLED_SCHEDULES = (ScheduledCommand.Status.DONE, ScheduledCommand.Status.CANCELLED)

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Pruned:
    """What one prune did (or, dry, would do) to one kind of row."""

    what: str
    rows: int
    mark: tuple[int, int] | None = None  # a policy's start, before and after


def prune(
    *, before: datetime, batch: int = 1000, dry_run: bool = False, progress: Progress = lambda what, done: None
) -> list[Pruned]:
    """Prune idempotency records created, and settled schedules and
    deliveries settled, before ``before``, ``batch`` rows per transaction; ``progress(what, done)``
    after each batch. Runs the sweep first, so each policy's mark may go as
    far as the sweep has looked."""
    if not dry_run:
        subscriptions.sweep()
    # Deleted outright: a key is honoured for the retention (a client repeating
    # a request later sends a new one), and nothing dispatches a settled
    # schedule, whose command's events stay in the log.
    pruned = [
        _prune_rows(model, model.objects.filter(created_at__lt=before), batch, dry_run, progress)
        for model in (ProcessedCommand, IdempotentResponse)
    ]
    settled_schedules = ScheduledCommand.objects.filter(status__in=SETTLED_SCHEDULES, settled_at__lt=before)
    pruned.append(_prune_rows(ScheduledCommand, settled_schedules, batch, dry_run, progress))
    for subscription in Subscription.objects.order_by("name"):
        policy = registry.policies.get(subscription.name)
        if policy is not None:  # a policy retired from the code is not checked by anything
            pruned.append(_prune_deliveries(policy, before, batch, dry_run, progress))
    return pruned


def new_mark(policy: Policy, subscription: Subscription, before: datetime) -> int:
    """Where ``policy``'s start may move: just before the oldest event of its
    type after the current start whose delivery is not settled before
    ``before`` (open, settled since, or missing), never back, and never past
    ``swept_to``: beyond it an event a process of the previous release wrote
    may still lack its delivery, which only the sweep may decide. One mark
    cannot skip an event, so one old dead letter holds the pruning back."""
    names = sorted(subscriptions.names_of(policy))  # a renamed policy's rows under its old names are its own
    prunable = _settled_before(before).filter(event=OuterRef("event_id"), policy__in=names)
    events = StoredEvent.objects.filter(type=policy.event_type.type_name(), position__gt=subscription.starts_after)
    needed = events.exclude(Exists(prunable)).order_by("position").values_list("position", flat=True).first()
    if needed is None:
        end = events.aggregate(end=Max("position"))["end"] or subscription.starts_after
    else:
        end = needed - 1
    return max(subscription.starts_after, min(end, subscription.swept_to))


def _settled_before(before: datetime):
    # A done row is dated by its delivery; a discarded one never was delivered.
    return Delivery.objects.alias(settled_at=Coalesce(F("delivered_at"), F("created_at"))).filter(
        status__in=SETTLED, settled_at__lt=before
    )


def _prune_deliveries(policy: Policy, before: datetime, batch: int, dry_run: bool, progress: Progress) -> Pruned:
    what = f"deliveries of {policy.name}"
    names = sorted(subscriptions.names_of(policy))
    # The mark moves first, in its own transaction, and the rows go after it:
    # a crash in between leaves rows to prune next time, never an event that
    # looks owed.
    with transaction.atomic(durable=True):
        subscription = Subscription.objects.select_for_update().get(name=policy.name)
        start, mark = subscription.starts_after, new_mark(policy, subscription, before)
        if mark != start and not dry_run:
            pruned_to = max(mark, subscription.pruned_to)
            Subscription.objects.filter(pk=subscription.pk).update(starts_after=mark, pruned_to=pruned_to)
            # its old names' marks move too: a process that knows only an
            # old name must not find the pruned events owed
            Subscription.objects.filter(name__in=names, starts_after__lt=mark).exclude(pk=subscription.pk).update(
                starts_after=mark, pruned_to=Greatest("pruned_to", Value(mark))
            )
    behind = _settled_before(before).filter(policy__in=names, event__position__lte=mark)
    if dry_run:
        return Pruned(what, behind.count(), (start, mark))
    done = 0
    while True:
        with transaction.atomic(durable=True):
            # Read the mark again under its lock: a replay that moved it back
            # since would find these events owed again.
            current = Subscription.objects.select_for_update().get(name=policy.name).starts_after
            ids = list(behind.filter(event__position__lte=current).values_list("pk", flat=True)[:batch])
            Delivery.objects.filter(pk__in=ids).delete()
        if not ids:
            return Pruned(what, done, (start, mark))
        done += len(ids)
        progress(what, done)


def _prune_rows(model, old, batch: int, dry_run: bool, progress: Progress) -> Pruned:
    what = model._meta.verbose_name_plural
    if dry_run:
        return Pruned(what, old.count())
    done = 0
    while True:
        with transaction.atomic(durable=True):
            ids = list(old.values_list("pk", flat=True)[:batch])
            model.objects.filter(pk__in=ids).delete()
        if not ids:
            return Pruned(what, done)
        done += len(ids)
        progress(what, done)
