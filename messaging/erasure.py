"""Erasing a person's personal data from every copy the kernel keeps.

A context forgets its own rows (an account's e-mail and username); the
kernel holds the copies: stored event payloads (a registration, a mail and
the rejection reasons that name someone), the HTTP answers kept for
idempotency, the errors of deliveries, the admin's log.

Copies are redacted in place, in the forgetting command's transaction.
Crypto-shredding (each person's data encrypted under a key that is thrown
away) would leave the log untouched, but only for data encrypted from the
start: what is stored today is plain text, every reader (the admin's
search, the events API, the unique e-mail index) would have to decrypt,
and a copy made outside the scheme (an SMTP error quoting an address) would
escape it. Redaction is the one sanctioned rewrite of stored payloads: it
changes no id, position or type, so counts, orders and the causal trace
read as before.
"""

import json
import re
from collections import Counter
from collections.abc import Callable

from django.contrib.admin.models import LogEntry
from django.db.models import Q
from django.utils import timezone

from .models import Delivery, IdempotentResponse, StoredEvent
from .outbox import MailQueued

ERASED_MAIL = "(erased: its recipient's account was forgotten)"


def erase(*, address: str, address_placeholder: str, name: str, name_placeholder: str) -> Counter:
    """Replace a person's e-mail ``address`` wherever it was copied, and
    their ``name`` wherever the product wrote it (a field holding it, a word
    of a reason, a mail or the admin's log); the mails to them lose their body, and
    those not yet sent will never be. Returns the rows changed, per kind.

    Must run inside the forgetting command's transaction."""
    redact = _redactor(address, address_placeholder, name, name_placeholder)
    changed = Counter()
    mails = StoredEvent.objects.filter(type=MailQueued.type_name(), payload__to__iexact=address)
    _stop_unsent_mail(mails)
    for row in mails:
        row.payload = {**row.payload, "body": ERASED_MAIL}
        row.save(update_fields=["payload"])
    for row in StoredEvent.objects.filter(Q(payload__icontains=address) | Q(payload__icontains=name)).iterator():
        payload = _walk(row.payload, redact)
        if payload != row.payload:
            row.payload = payload
            row.save(update_fields=["payload"])
            changed["events"] += 1
    for row in IdempotentResponse.objects.filter(Q(body__icontains=address) | Q(body__icontains=name)).iterator():
        body = json.dumps(_walk(json.loads(row.body), redact)) if row.body else row.body
        if body != row.body:
            row.body = body
            row.save(update_fields=["body"])
            changed["stored answers"] += 1
    for row in Delivery.objects.filter(last_error__icontains=address):
        row.last_error = redact(row.last_error)
        row.save(update_fields=["last_error"])
        changed["delivery errors"] += 1
    for row in LogEntry.objects.filter(
        Q(object_repr__icontains=address)
        | Q(change_message__icontains=address)
        | Q(object_repr__iexact=name)
        | Q(change_message__icontains=name)
    ):
        row.object_repr, row.change_message = redact(row.object_repr), redact(row.change_message)
        row.save(update_fields=["object_repr", "change_message"])
        changed["admin log entries"] += 1
    return changed


# Free text the product writes itself, where a name may appear as a word.
WRITTEN = ("reason", "subject", "body")


def _redactor(address: str, address_placeholder: str, name: str, name_placeholder: str) -> Callable[..., str]:
    """A function redacting one string: the address wherever it appears (it
    is unique and unmistakable); the name as a whole value, and as a word
    only in text the product wrote (``in_words``), since the same word in a
    book's title someone typed is no copy of the person's name."""
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


def _stop_unsent_mail(mails) -> None:
    """A mail to a forgotten address not yet sent never will be: its
    delivery is discarded (it would only dead-letter on the placeholder),
    so the ledger still shows what became of it."""
    Delivery.objects.filter(event__in=mails.values("event_id")).exclude(
        status__in=(Delivery.Status.DONE, Delivery.Status.DISCARDED)
    ).update(status=Delivery.Status.DISCARDED, lease=None, last_error="", next_attempt_at=timezone.now())
