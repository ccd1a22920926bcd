"""Erasing a person's personal data from every copy the kernel keeps.

A context forgets its own rows (an account's e-mail and username) in the
forgetting command's transaction, and asks there for the rest (``begin``):
an ``Erasure`` row keeps what to look for until the copies are clean. The
kernel holds the copies: stored event payloads (a registration, a mail and
the rejection reasons that name someone), the HTTP answers kept for
idempotency, the errors of deliveries, the admin's log.

The copies are erased in bounded batches, each a delivery of its own, as
the follows of a deactivation are severed. ``EraseCopies`` (issued by the
context's policy) finds the rows of each kind that mention the person (ids
only: one read) and records one ``ErasureBatchScheduled`` per part of at
most a batch (``FANOUT_BATCH_SIZE``; half of one for events, whose mails'
deliveries are stopped too), at most half a batch of parts, wide and
shallow as the fan-out is; a part still larger than a batch splits again.
Each part is delivered (``erase_next_batch`` -> ``EraseBatch``) in its own
transaction, exactly once: a crash leaves its delivery open, and a rerun
of a batch rewrites nothing it rewrote before. The last batch deletes the
``Erasure`` row, so the person's data outlives the erasure nowhere.

Copies are redacted in place. Crypto-shredding (each person's data
encrypted under a key that is thrown away) would leave the log untouched,
but only for data encrypted from the start: what is stored today is plain
text, every reader (the admin's search, the events API, the unique e-mail
index) would have to decrypt, and a copy made outside the scheme (an SMTP
error quoting an address) would escape it. Redaction is the one sanctioned
rewrite of stored payloads: it changes no id, position or type, so counts,
orders and the causal trace read as before.
"""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db.models import Q, QuerySet
from django.utils import timezone

from .messages import Event, PolicyCommand
from .models import Delivery, Erasure, IdempotentResponse, StoredEvent
from .outbox import MailQueued

ERASED_MAIL = "(erased: its recipient's account was forgotten)"


def begin(*, erasure_id: UUID, address: str, address_placeholder: str, name: str, name_placeholder: str) -> None:
    """Ask for a person's e-mail ``address`` to be replaced wherever it was
    copied, and their ``name`` wherever the product wrote it (a field
    holding it, a word of a reason, a mail or the admin's log); the mails to
    them lose their body, and those not yet sent never will be. Runs in the
    forgetting command's transaction; ``EraseCopies(erasure_id)``, issued
    by a policy of the event named ``erasure_id``, does the rest."""
    Erasure.objects.create(
        erasure_id=erasure_id,
        address=address,
        address_placeholder=address_placeholder,
        name=name,
        name_placeholder=name_placeholder,
    )


@dataclass(frozen=True, kw_only=True)
class EraseCopies(PolicyCommand):
    """Start erasing the copies an ``Erasure`` names: schedule its batches."""

    erasure_id: UUID


@dataclass(frozen=True, kw_only=True)
class EraseBatch(PolicyCommand):
    """Erase the copies of one ``kind`` whose row ids run from ``first`` to ``last``."""

    erasure_id: UUID
    kind: str
    first: int
    last: int


@dataclass(frozen=True, kw_only=True)
class ErasureBatchScheduled(Event):
    """Part of an erasure, left to a delivery of its own."""

    erasure_id: UUID
    kind: str
    first: int
    last: int


@dataclass(frozen=True, kw_only=True)
class CopiesErased(Event):
    """One batch of an erasure ran: ``rows`` of ``kind`` were rewritten."""

    erasure_id: UUID
    kind: str
    rows: int


@dataclass(frozen=True, kw_only=True)
class ErasureCompleted(Event):
    """Every copy an erasure looked for is erased; what it looked for is gone too."""

    erasure_id: UUID


def erase_copies(command: EraseCopies) -> list[Event]:
    """Schedule the batches of every kind of copy; complete at once when
    nothing mentions the person. Nothing when the erasure is over already."""
    erasure = Erasure.objects.select_for_update().filter(erasure_id=command.erasure_id).first()
    if erasure is None:
        return []
    scheduled = [
        ErasureBatchScheduled(erasure_id=erasure.erasure_id, kind=name, first=ids[0], last=ids[-1])
        for name, kind in KINDS.items()
        for ids in _parts(list(kind.matching(erasure)), kind.batch_size())
    ]
    if not scheduled:
        erasure.delete()
        return [ErasureCompleted(erasure_id=command.erasure_id)]
    erasure.batches_left = len(scheduled)
    erasure.save(update_fields=["batches_left"])
    return scheduled


def erase_batch(command: EraseBatch) -> list[Event]:
    """Rewrite the copies of one part when they fit in a batch, else split
    it again; the last batch to finish completes the erasure."""
    erasure = Erasure.objects.select_for_update().filter(erasure_id=command.erasure_id).first()
    if erasure is None:
        return []
    kind = KINDS[command.kind]
    parts = _parts(list(kind.matching(erasure, command.first, command.last)), kind.batch_size())
    if len(parts) > 1:
        erasure.batches_left += len(parts) - 1
        erasure.save(update_fields=["batches_left"])
        return [
            ErasureBatchScheduled(erasure_id=erasure.erasure_id, kind=command.kind, first=ids[0], last=ids[-1])
            for ids in parts
        ]
    rows = kind.redact(erasure, parts[0]) if parts else 0
    erased = CopiesErased(erasure_id=erasure.erasure_id, kind=command.kind, rows=rows)
    erasure.batches_left -= 1
    if erasure.batches_left:
        erasure.save(update_fields=["batches_left"])
        return [erased]
    erasure.delete()
    return [erased, ErasureCompleted(erasure_id=erasure.erasure_id)]


def erase_next_batch(event: ErasureBatchScheduled):
    """Each scheduled part of an erasure runs in a delivery of its own."""
    return [EraseBatch(erasure_id=event.erasure_id, kind=event.kind, first=event.first, last=event.last)]


def _parts(ids: list[int], batch_size: int) -> list[list[int]]:
    """Nothing for no ids; one part when they fit in a batch; otherwise at
    most half a batch of sibling parts, each at least a batch (they split
    again when they run)."""
    if len(ids) <= batch_size:
        return [ids] if ids else []
    part = max(batch_size, math.ceil(len(ids) / max(2, batch_size // 2)))
    return [ids[start : start + part] for start in range(0, len(ids), part)]


@dataclass(frozen=True)
class _Kind:
    """One kind of copy: how to find the rows mentioning the person (their
    ids, in order, optionally from ``first`` to ``last``), how to rewrite
    some of them (how many changed), and how many rows make a batch."""

    find: Callable[[Erasure], QuerySet]
    redact: Callable[[Erasure, list[int]], int]
    writes_per_row: int = 1

    def matching(self, erasure: Erasure, first: int | None = None, last: int | None = None) -> QuerySet:
        rows = self.find(erasure)
        if first is not None:
            rows = rows.filter(pk__gte=first, pk__lte=last)
        return rows.order_by("pk").values_list("pk", flat=True)

    def batch_size(self) -> int:
        return max(1, settings.FANOUT_BATCH_SIZE // self.writes_per_row)


def _events(erasure: Erasure) -> QuerySet:
    return StoredEvent.objects.filter(Q(payload__icontains=erasure.address) | Q(payload__icontains=erasure.name))


def _redact_events(erasure: Erasure, positions: list[int]) -> int:
    redact, changed, mails = _redactor(erasure), 0, []
    for row in StoredEvent.objects.filter(position__in=positions):
        payload = row.payload
        if row.type == MailQueued.type_name() and str(payload.get("to", "")).lower() == erasure.address.lower():
            payload = {**payload, "body": ERASED_MAIL}
            mails.append(row.event_id)
        payload = _walk(payload, redact)
        if payload != row.payload:
            row.payload = payload
            row.save(update_fields=["payload"])
            changed += 1
    _stop_unsent_mail(mails)
    return changed


def _answers(erasure: Erasure) -> QuerySet:
    return IdempotentResponse.objects.filter(Q(body__icontains=erasure.address) | Q(body__icontains=erasure.name))


def _redact_answers(erasure: Erasure, ids: list[int]) -> int:
    redact, changed = _redactor(erasure), 0
    for row in IdempotentResponse.objects.filter(pk__in=ids):
        body = json.dumps(_walk(json.loads(row.body), redact)) if row.body else row.body
        if body != row.body:
            row.body = body
            row.save(update_fields=["body"])
            changed += 1
    return changed


def _delivery_errors(erasure: Erasure) -> QuerySet:
    return Delivery.objects.filter(last_error__icontains=erasure.address)


def _redact_delivery_errors(erasure: Erasure, ids: list[int]) -> int:
    redact, changed = _redactor(erasure), 0
    for row in Delivery.objects.filter(pk__in=ids):
        row.last_error = redact(row.last_error)
        row.save(update_fields=["last_error"])
        changed += 1
    return changed


def _admin_log(erasure: Erasure) -> QuerySet:
    return LogEntry.objects.filter(
        Q(object_repr__icontains=erasure.address)
        | Q(change_message__icontains=erasure.address)
        | Q(object_repr__iexact=erasure.name)
        | Q(change_message__icontains=erasure.name)
    )


def _redact_admin_log(erasure: Erasure, ids: list[int]) -> int:
    redact, changed = _redactor(erasure), 0
    for row in LogEntry.objects.filter(pk__in=ids):
        row.object_repr, row.change_message = redact(row.object_repr), redact(row.change_message)
        row.save(update_fields=["object_repr", "change_message"])
        changed += 1
    return changed


# Each event may cost two writes: its payload, and its unsent mail's delivery.
KINDS = {
    "events": _Kind(_events, _redact_events, writes_per_row=2),
    "stored answers": _Kind(_answers, _redact_answers),
    "delivery errors": _Kind(_delivery_errors, _redact_delivery_errors),
    "admin log entries": _Kind(_admin_log, _redact_admin_log),
}


# Free text the product writes itself, where a name may appear as a word.
WRITTEN = ("reason", "subject", "body")


def _redactor(erasure: Erasure) -> Callable[..., str]:
    """A function redacting one string: the address wherever it appears (it
    is unique and unmistakable); the name as a whole value, and as a word
    only in text the product wrote (``in_words``), since the same word in a
    book's title someone typed is no copy of the person's name."""
    address, address_placeholder = erasure.address, erasure.address_placeholder
    name, name_placeholder = erasure.name, erasure.name_placeholder
    address_pattern = re.compile(re.escape(address), re.IGNORECASE)
    name_pattern = re.compile(rf"(?<![\w.@-]){re.escape(name)}(?![\w-])", re.IGNORECASE)

    def redact(text: str, *, in_words: bool = True) -> str:
        text = address_pattern.sub(address_placeholder, text)
        if text.lower() == name.lower():
            return name_placeholder
        return name_pattern.sub(name_placeholder, text) if in_words else text

    return redact


def _walk(value, redact: Callable[..., str], key: str | None = None):
    """``value`` (JSON primitives) with every string redacted, a name in
    words only under the keys of ``WRITTEN``."""
    if isinstance(value, str):
        return redact(value, in_words=key in WRITTEN)
    if isinstance(value, list):
        return [_walk(item, redact, key) for item in value]
    if isinstance(value, dict):
        return {name: _walk(item, redact, name) for name, item in value.items()}
    return value


def _stop_unsent_mail(event_ids: list[UUID]) -> None:
    """A mail to a forgotten address not yet sent never will be: its
    delivery is discarded (it would only dead-letter on the placeholder),
    so the ledger still shows what became of it."""
    if not event_ids:
        return
    Delivery.objects.filter(event__in=event_ids).exclude(
        status__in=(Delivery.Status.DONE, Delivery.Status.DISCARDED)
    ).update(status=Delivery.Status.DISCARDED, lease=None, last_error="", next_attempt_at=timezone.now())
