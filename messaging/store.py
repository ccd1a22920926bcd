"""The event store: appending events with their deliveries, reading them back.

This module is the only code that writes ``StoredEvent`` and creates
``Delivery`` rows, and the only one that runs the inline projections
(``registry.register_projection``), in the appending transaction right
after the events' INSERT. It writes both kinds of row with hand-written
multi-row INSERTs, not
``bulk_create``: every command appends, and compiling the ORM's INSERT cost
more than running it. Each INSERT fits the backend's parameter limit (read
per connection: SQLite's can be lowered at run time) and at most
``ROWS_PER_STATEMENT`` rows.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from uuid import UUID

from django.db.models.functions import Now

from . import personal, sql, telemetry
from .ambient import current_cause, held_appends
from .messages import EVENT_METADATA, Command, Event, Rejection
from .models import Delivery, StoredEvent
from .registry import registry
from .serialization import build


@dataclass(frozen=True)
class Opened:
    """A delivery just opened, with the event it delivers."""

    delivery_id: int
    event: Event
    policy: str
    outside: bool = False
    ordering_key: str | None = None
    relay_only: bool = False  # never delivered in the committing process (``Policy.relay_only``)


def append(command: Command, events: list[Event], duration_ms: float | None = None) -> tuple[list[Event], list[Opened]]:
    """Store ``events`` as consequences of ``command``, run their projectors
    and open their deliveries.

    Must run inside the command's transaction: the read models commit with
    the events, and a projector that raises fails the command.
    ``duration_ms``, how long the command took until now (its projectors
    not included), rides on its events' rows (the trace shows it). Returns the events stamped
    with the command's metadata and the deliveries opened (with their
    events, so delivery after commit need not read them back).
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
    command_type, policy = command.type_name(), cause.policy if cause else ""
    trace_id = telemetry.current_trace_id()
    rows = [
        _event_row(event, payload, command_type, command.actor_id, policy, trace_id, duration_ms)
        for event, payload in zip(stamped, _sealed_payloads(stamped), strict=True)
    ]
    held = _held.get()
    if held is not None:
        held.rows += rows
    unwritten = None if held is not None else (StoredEvent, rows)
    subscribed = [(event, policy) for event in stamped for policy in registry.policies_for(event)]
    returned = []
    if subscribed:
        returned = sql.insert(
            Delivery,
            [
                {
                    "event": event.event_id,
                    "policy": policy.name,
                    "status": Delivery.Status.PENDING.value,
                    "attempts": 0,
                    "last_error": "",
                    "outside": policy.outside,
                    "ordering_key": policy.ordering_key(event),
                    "event_version": event.version,
                }
                for event, policy in subscribed
            ],
            now=("next_attempt_at", "created_at"),  # due at once by the database's clock, whoever reads it
            returning=("id", "event", "policy"),
            written_first=unwritten,
        )
    elif unwritten is not None:
        sql.insert(*unwritten)
    _project(stamped)
    # RETURNING gives no order on SQLite: match the ids up by their natural key.
    ids = {(_uuid(event_id), policy): pk for pk, event_id, policy in returned}
    return stamped, [
        Opened(
            ids[event.event_id, policy.name],
            event,
            policy.name,
            policy.outside,
            policy.ordering_key(event),
            policy.relay_only,
        )
        for event, policy in subscribed
    ]


class _Held:
    """Events appended while a relay batch runs, written together in one
    INSERT when the batch ends (``flush``), or before anything in that
    transaction reads the log: ``StoredEvent.objects`` flushes what is held
    (``ambient.held_appends``), so a projector or a handler reading it
    finds them."""

    def __init__(self):
        self.rows: list[dict] = []

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if rows:
            sql.insert(StoredEvent, rows)


_held = held_appends


@contextmanager
def appends_held() -> Iterator[_Held]:
    """Within it, the events appended are held and written in one INSERT by
    the ``flush`` the caller calls before its transaction commits (the
    deliveries' foreign keys to them are checked at commit). Only for work
    that rolls back whole on any error: a savepoint rolled back inside
    would not take its held events with it (``appends_now`` lifts it)."""
    held = _Held()
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


@contextmanager
def appends_now() -> Iterator[None]:
    """Write what is held, and append at once within: for work in a
    savepoint that may roll back alone."""
    held = _held.get()
    if held is not None:
        held.flush()
    token = _held.set(None)
    try:
        yield
    finally:
        _held.reset(token)


def _project(events: list[Event]) -> None:
    """Run each event's projectors, in the order the events were stored."""
    for event in events:
        for project in registry.projectors_for(event):
            project(event)


def append_applied(caused: list[tuple[Command, Event]]) -> None:
    """Store events whose policies' and projections' effects the caller has
    already written (bulk seeding), each with the command that produced it;
    their deliveries are recorded done and no projector runs. Outside a
    command, so nothing is delivered later. Written with ``sql.copy``: on
    PostgreSQL, ``COPY``."""
    stamped = [
        (command, dataclasses.replace(event, command_id=command.command_id, correlation_id=command.command_id))
        for command, event in caused
    ]
    payloads = _sealed_payloads([event for _, event in stamped])
    sql.copy(
        StoredEvent,
        [
            _event_row(event, payload, command.type_name(), command.actor_id)
            for (command, event), payload in zip(stamped, payloads, strict=True)
        ],
    )
    done = [
        {
            "event": event.event_id,
            "policy": policy.name,
            "status": Delivery.Status.DONE,
            "attempts": 1,
            "last_error": "",
            "outside": policy.outside,
            "ordering_key": policy.ordering_key(event),
            "event_version": event.version,
        }
        for _, event in stamped
        for policy in registry.policies_for(event)
    ]
    if done:
        sql.copy(Delivery, done, now=("next_attempt_at", "created_at", "delivered_at"))


def open_deliveries(policy, event_ids: list, *, lane: str | None = None) -> None:
    """Open ``policy``'s deliveries of events already stored (a replay, in
    the backfill ``lane``; the sweep, live); one that exists already is left
    as it is, so opening twice is opening once. Each row keeps the version
    its event was stored in, and the ordering key the policy gives it, as
    the row opened with the event would have (the events are read for it
    only when the policy declares one: ``ordered_by``)."""
    rows = StoredEvent.objects.filter(event_id__in=event_ids)
    if policy.ordered_by is None:
        found = {event_id: (version, None) for event_id, version in rows.values_list("event_id", "version")}
    else:
        rows = list(rows)
        found = {
            row.event_id: (row.version, policy.ordering_key(event))
            for row, event in zip(rows, load_batch(rows), strict=True)
        }
    Delivery.objects.bulk_create(
        [
            Delivery(
                event_id=event_id,
                policy=policy.name,
                outside=policy.outside,
                event_version=version,
                ordering_key=key,
                next_attempt_at=Now(),
                created_at=Now(),
                lane=lane,
            )
            for event_id, (version, key) in ((event_id, found.get(event_id, (1, None))) for event_id in event_ids)
        ],
        ignore_conflicts=True,
    )


def load(row: StoredEvent) -> Event:
    """Rebuild the event a row stores, upcasting an older payload first and
    opening its personal data (placeholders where its person was forgotten)."""
    return _build(row, opened_payloads([row])[0])


def load_many(event_ids) -> list[Event]:
    """Events by id, in the order they were stored (their keys read once)."""
    return load_batch(list(StoredEvent.objects.filter(event_id__in=event_ids)))


def load_batch(rows: list[StoredEvent]) -> list[Event]:
    """The events ``rows`` store, their keys read once."""
    return [_build(row, payload) for row, payload in zip(rows, opened_payloads(rows), strict=True)]


def opened_payloads(rows: list[StoredEvent]) -> list[dict]:
    """The payloads of ``rows`` as their events read them: upcast to the
    current version, personal fields opened with one read of the keys."""
    upcast = [(registry.events[row.type], registry.upcast(row.type, row.version, row.payload)) for row in rows]
    subjects = {subject for cls, payload in upcast for subject in personal.subjects_of(cls, payload)}
    if not subjects:
        return [payload for _, payload in upcast]
    keyring = personal.keys_for(subjects)
    return [personal.open_payload(cls, payload, keyring) for cls, payload in upcast]


def _build(row: StoredEvent, payload: dict) -> Event:
    # A field the class lacks was added, with a default, by a later release
    # running beside this one (docs/operations.md, "Changing an event"):
    # this release reads the event without it (a tolerant reader).
    cls = registry.events[row.type]
    known = _field_names(cls)
    metadata = {name: getattr(row, name) for name in EVENT_METADATA}
    return build(cls, {**{name: value for name, value in payload.items() if name in known}, **metadata})


@cache
def _field_names(cls) -> frozenset[str]:
    return frozenset(field.name for field in dataclasses.fields(cls) if field.init)


def _sealed_payloads(events: list[Event]) -> list[dict]:
    """The events' payloads as they are stored: each declared personal field
    sealed under its subject's key (read, or made for a new subject, once
    for them all)."""
    payloads = [event.payload() for event in events]
    subjects = {
        subject
        for event, payload in zip(events, payloads, strict=True)
        for subject in personal.subjects_of(type(event), payload)
    }
    if not subjects:
        return payloads
    keyring = personal.keys_to_seal_for(subjects)
    return [
        personal.seal_payload(type(event), payload, keyring) for event, payload in zip(events, payloads, strict=True)
    ]


def _event_row(
    event: Event,
    payload: dict,
    command_type: str,
    actor_id: UUID | None,
    policy: str = "",
    trace_id: str = "",
    duration_ms: float | None = None,
) -> dict:
    """The ``StoredEvent`` columns of an event already stamped with its
    command's metadata, and the command's actor (the event itself does not
    carry it: who acted is the command's, not the fact's), and the
    OpenTelemetry trace it was stored in, if any (what the trace page links
    to)."""
    return {
        "event_id": event.event_id,
        "type": event.type_name(),
        "version": event.version,
        "payload": payload,
        "is_rejection": isinstance(event, Rejection),
        "occurred_at": event.occurred_at,
        "command_id": event.command_id,
        "command_type": command_type,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "actor_id": actor_id,
        "policy": policy,
        "trace_id": trace_id,
        "command_duration_ms": duration_ms,
    }


def _uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
