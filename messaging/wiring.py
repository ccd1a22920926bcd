"""The kernel's own events."""

from messaging.registry import Registry

from . import messages


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused)
