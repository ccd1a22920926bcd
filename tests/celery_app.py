"""The Celery app the tests' workers run (``celery -A tests.celery_app
worker``): the project's own (``config.celery``), plus a policy that counts
its effects, registered in every worker process, so that a delivery run
twice would show as a second ``EffectCounted`` for one event."""

from dataclasses import dataclass
from uuid import UUID

from celery import signals

from catalog.events import BookAdded
from config.celery import app
from messaging.messages import Command, Event
from messaging.registry import registry

__all__ = ["app", "register_counting"]

COUNTING_POLICY = "tests.count"


@dataclass(frozen=True, kw_only=True)
class CountEffect(Command):
    source_event_id: UUID


@dataclass(frozen=True, kw_only=True)
class EffectCounted(Event):
    source_event_id: UUID


def register_counting(registry) -> None:
    """Count every ``BookAdded`` once per delivery: a command that is not
    idempotent, so a double delivery stores a second ``EffectCounted``."""
    registry.register_handler(CountEffect, lambda command: [EffectCounted(source_event_id=command.source_event_id)])
    registry.register_events(EffectCounted)
    registry.subscribe(BookAdded, lambda event: [CountEffect(source_event_id=event.event_id)], name=COUNTING_POLICY)


@signals.worker_process_init.connect
def _wire_counting(**_):
    register_counting(registry)
