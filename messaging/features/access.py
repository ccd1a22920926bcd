"""The right of access: everything the product holds about one person, as
one document.

Each context registers its sections (``registry.register_personal_data``);
the kernel adds the person's events, their fields opened and another
person's withheld. ``export`` answers JSON primitives, so the shell and the
API give the same document; it walks the log in batches, in no transaction.
See docs/architecture.md, "Personal data, sealed per person" (exported).
"""

from collections.abc import Iterator
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import personal, store
from ..models import StoredEvent
from ..registry import registry
from ..serialization import to_primitive

BATCH = 500

WITHHELD = "(withheld: another person's data)"
"""What a declared personal field reads as in an export when it is not the exported person's."""


def export(subject: UUID) -> dict:
    """Everything the product holds about the account ``subject``:
    ``account_id``, ``exported_at``, each registered section, and
    ``events`` (each ``type, version, occurred_at, event_id,
    correlation_id, payload``; ``version`` is the one the payload reads as,
    old payloads being upcast). JSON primitives throughout."""
    document = {"account_id": str(subject), "exported_at": timezone.now().isoformat()}
    for section, read in registry.personal_data_sections.items():
        document[section] = to_primitive(read(subject))
    document["events"] = list(events_of(subject))
    return document


def events_of(subject: UUID, *, batch: int = BATCH) -> Iterator[dict]:
    """The stored events of ``subject`` (see the module), oldest first, read
    ``batch`` rows at a time, each batch's keys read once."""
    rows = StoredEvent.objects.filter(_theirs(subject)).order_by("position")
    after = 0
    while chunk := list(rows.filter(position__gt=after)[:batch]):
        for row, payload in zip(chunk, store.opened_payloads(chunk), strict=True):
            yield {
                "type": row.type,
                "version": registry.events[row.type].version,
                "occurred_at": row.occurred_at.isoformat(),
                "event_id": str(row.event_id),
                "correlation_id": str(row.correlation_id),
                "payload": _withhold_others(registry.events[row.type], payload, subject),
            }
        after = chunk[-1].position


def _theirs(subject: UUID) -> Q:
    """The events ``subject``'s commands produced, or that hold data of
    theirs by declaration (a personal field whose subject field names them)."""
    theirs = Q(actor_id=subject)
    for name, cls in registry.events.items():
        for field in sorted({declared.subject for declared in personal.declared(cls).values()}):
            theirs |= Q(type=name, **{f"payload__{field}": str(subject)})
    return theirs


def _withhold_others(cls, payload: dict, subject: UUID) -> dict:
    """``payload`` with every declared personal field of someone other than ``subject`` withheld."""
    others = {
        name
        for name, declared in personal.declared(cls).items()
        if str(payload.get(declared.subject) or "") != str(subject)
    }
    return {name: WITHHELD if name in others else value for name, value in payload.items()}


def facts(event_types: list[str], **payload_equals) -> QuerySet[StoredEvent]:
    """The stored facts of ``event_types`` whose payload fields equal
    ``payload_equals``, oldest first: what a context reads of its own
    history for a person's export (when their orders changed)."""
    return StoredEvent.objects.filter(
        type__in=event_types, **{f"payload__{name}": value for name, value in payload_equals.items()}
    ).order_by("position")
