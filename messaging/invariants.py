"""The kernel's own consistency rule, checked by ``manage.py check_invariants``."""

from collections.abc import Iterator

from django.db.models import Exists, OuterRef

from .models import Delivery, StoredEvent
from .registry import registry


def every_event_has_its_deliveries() -> Iterator[str]:
    """Each stored event has one delivery per policy subscribed to its type."""
    for policy in registry.policies.values():
        missing = (
            StoredEvent.objects.filter(type=policy.event_type.type_name())
            .exclude(Exists(Delivery.objects.filter(event=OuterRef("event_id"), policy=policy.name)))
            .values_list("event_id", flat=True)
        )
        for event_id in missing:
            yield f"event {event_id} ({policy.event_type.type_name()}) has no delivery for {policy.name}"
