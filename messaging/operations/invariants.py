"""The kernel's own consistency rules, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator

from django.core.exceptions import ValidationError

from .. import store
from ..features import subscriptions
from ..models import Delivery, ScheduledCommand, StoredEvent
from ..registry import registry

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
