"""The event store: appending events with their deliveries, reading them back.

This module is the only code that writes ``StoredEvent`` and creates
``Delivery`` rows.
"""

import dataclasses

from .context import current_cause
from .messages import EVENT_METADATA, Command, Event, Rejection
from .models import Delivery, StoredEvent
from .registry import registry
from .serialization import build


def append(command: Command, events: list[Event]) -> tuple[list[Event], list[int]]:
    """Store ``events`` as consequences of ``command`` and open their deliveries.

    Must run inside the command's transaction. Returns the events stamped
    with the command's metadata and the ids of the deliveries opened, which
    the bus hands to delivery once the transaction commits.
    """
    if not events:
        return [], []
    cause = current_cause.get()
    stamped = [
        dataclasses.replace(
            event,
            command_id=command.command_id,
            correlation_id=command.correlation_id,
            causation_id=command.causation_id,
        )
        for event in events
    ]
    StoredEvent.objects.bulk_create(
        [
            StoredEvent(
                event_id=event.event_id,
                type=event.type_name(),
                version=event.version,
                payload=event.payload(),
                is_rejection=isinstance(event, Rejection),
                occurred_at=event.occurred_at,
                command_id=command.command_id,
                command_type=command.type_name(),
                correlation_id=command.correlation_id,
                causation_id=command.causation_id,
                policy=cause.policy if cause else "",
            )
            for event in stamped
        ]
    )
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(event_id=event.event_id, policy=policy.name)
            for event in stamped
            for policy in registry.policies_for(event)
        ]
    )
    return stamped, [delivery.pk for delivery in deliveries]


def load(row: StoredEvent) -> Event:
    """Rebuild the event a row stores, upcasting an older payload first."""
    event_type = registry.events[row.type]
    payload = registry.upcast(row.type, row.version, row.payload)
    metadata = {name: getattr(row, name) for name in EVENT_METADATA}
    return build(event_type, {**payload, **metadata})


def load_many(event_ids) -> list[Event]:
    """Events by id, in the order they were stored."""
    return [load(row) for row in StoredEvent.objects.filter(event_id__in=event_ids)]
