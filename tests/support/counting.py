"""A policy that counts its effects, for tests of exactly-once delivery.

Its command is not idempotent: a delivery run twice stores a second
``EffectCounted`` for one event, which ``counted_twice`` then names."""

from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Command, Event

COUNTING_POLICY = "tests.count"


@dataclass(frozen=True, kw_only=True)
class CountEffect(Command):
    source_event_id: UUID


@dataclass(frozen=True, kw_only=True)
class EffectCounted(Event):
    source_event_id: UUID


def register_counting(registry, on: type[Event]) -> None:
    """Subscribe the counting policy to every event of type ``on``."""
    registry.register_handler(CountEffect, lambda command: [EffectCounted(source_event_id=command.source_event_id)])
    registry.register_events(EffectCounted)
    registry.subscribe(on, lambda event: [CountEffect(source_event_id=event.event_id)], name=COUNTING_POLICY)


def counted() -> Counter:
    """How many times each source event's effect was stored."""
    from messaging.models import StoredEvent  # not at import: Celery workers import this before Django is set up

    return Counter(StoredEvent.objects.filter(type="EffectCounted").values_list("payload__source_event_id", flat=True))
