"""The kernel's own events and consistency rule."""

from messaging.registry import Registry

from . import invariants, messages


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused, messages.CommandRejected)
    registry.register_invariant(invariants.every_event_has_its_deliveries)
