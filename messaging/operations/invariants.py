"""The kernel's own consistency rules, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now

from .. import store
from ..conf import conf
from ..delivery import workers
from ..features import subscriptions
from ..models import Delivery, ScheduledCommand, StoredEvent
from ..registry import registry
from . import metrics

LOAD_BATCH = 2000


def every_event_has_its_deliveries() -> Iterator[str]:
    """Each stored event has one delivery per policy subscribed to its type,
    from that policy's start on (earlier events only once replayed)."""
    starts = subscriptions.starts()
    for policy in registry.policies.values():
        owed = subscriptions.missing(policy, after=starts.get(policy.name, 0)).values_list("event_id", flat=True)
        for event_id in owed:
            yield f"event {event_id} ({policy.event_type.type_name()}) has no delivery for {policy.name}"


def no_delivery_is_dead_lettered() -> Iterator[str]:
    """No dead letter waits unseen: each one is a consequence that never took
    effect until an operator retries it (after fixing its fault) or discards
    it. A discarded delivery was an operator's decision, not a violation."""
    dead = Delivery.objects.filter(status=Delivery.Status.DEAD).select_related("event").order_by("pk")
    for row in dead.iterator():
        yield (
            f"delivery {row.pk} ({row.event.type} -> {row.policy}) is dead-lettered: {row.last_error}; "
            "retry or discard it with manage.py deliveries"
        )


def no_schedule_is_dead_lettered() -> Iterator[str]:
    """No scheduled command gave up unseen: a dead one never ran (an order
    that never expired), until an operator sees to its fault."""
    dead = ScheduledCommand.objects.filter(status=ScheduledCommand.Status.DEAD).order_by("pk")
    for row in dead.iterator():
        yield (
            f"scheduled {row.command_type} [{row.key}] is dead-lettered after {row.attempts} attempt(s): "
            f"{row.last_error}; see manage.py deliveries schedules --status dead"
        )


def no_schedule_is_overdue() -> Iterator[str]:
    """No waiting schedule is past its time by more than
    ``MESSAGING_SCHEDULE_OVERDUE_SECONDS`` (by the database's clock): one
    that is says nothing sweeps (Celery's beat, every relay stopped), or
    the sweep is starved."""
    late = Now() - timedelta(seconds=conf.MESSAGING_SCHEDULE_OVERDUE_SECONDS)
    overdue = (
        ScheduledCommand.objects.filter(status=ScheduledCommand.Status.WAITING, not_before__lt=late)
        .annotate(late_by=ExpressionWrapper(Now() - F("not_before"), output_field=DurationField()))
        .order_by("not_before", "pk")
    )
    for row in overdue.iterator():
        yield (
            f"scheduled {row.command_type} [{row.key}] is overdue by {int(row.late_by.total_seconds())}s: "
            "is a relay (manage.py relay_events --loop) or Celery's beat running?"
        )


def every_open_delivery_has_a_worker() -> Iterator[str]:
    """A warning: each delivery open for more than
    ``MESSAGING_UNKNOWN_DELIVERY_SECONDS`` is of a policy (and an event
    version) some running worker knows (``workers.unknown``)."""
    for found in workers.unknown():
        yield workers.describe(found)


def the_schedules_are_swept() -> Iterator[str]:
    """A warning: the schedules were swept within
    ``MESSAGING_SCHEDULE_OVERDUE_SECONDS`` (a dead beat is seen before
    anything is overdue)."""
    ago = metrics.backlog().last_sweep_seconds_ago
    if ago is None:
        yield "no sweep of the schedules recorded yet: start a relay or Celery's beat"
    elif ago > conf.MESSAGING_SCHEDULE_OVERDUE_SECONDS:
        yield f"no sweep of the schedules for {ago}s: is a relay or Celery's beat running?"


def every_stored_event_loads() -> Iterator[str]:
    """Every stored event still reads as its type (upcast, its personal data
    opened or a placeholder): forgetting someone or changing a schema broke
    no one's history. Reads the whole log, a batch at a time."""
    after = 0
    while rows := list(StoredEvent.objects.filter(position__gt=after).order_by("position")[:LOAD_BATCH]):
        try:
            store.load_batch(rows)
        except (KeyError, TypeError, ValueError, ValidationError):
            for row in rows:
                try:
                    store.load(row)
                except (KeyError, TypeError, ValueError, ValidationError) as error:
                    yield f"event #{row.position} ({row.type} v{row.version}) does not load: {error!r}"
        after = rows[-1].position


def no_delivery_is_held() -> Iterator[str]:
    """A warning: deliveries wait behind an earlier one of their policy and
    key (retrying, or dead: an operator decides)."""
    held = metrics.held()
    if held:
        yield (
            f"{held} deliveries are held back by an earlier one of their ordering key: "
            "manage.py deliveries list --held shows what holds them"
        )
