"""The kernel's own events and consistency rules."""

from messaging.registry import Registry

from . import invariants, messages


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused)
    registry.register_invariant(invariants.every_event_has_its_deliveries)
    registry.register_invariant(invariants.no_delivery_is_dead_lettered)
