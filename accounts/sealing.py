"""Sealing the personal data a database stored in clear before personal data
was declared (``messaging.personal``), so that forgetting needs no search
there either.

Before, an account's e-mail and username were copied in clear into its
registration event, the mails it was sent (address, name and text), the
answers kept for idempotency keys, a refusal's reason and mail errors.
``seal_history`` turns each into the declared form, in batches of
``batch_size`` rows, each committed on its own, so a run that stops resumes
where it stopped: a row it sealed is no longer what it looks for.

- registrations (``AccountRegistered`` v1): e-mail and username sealed (v2);
- mails (``MailQueued`` v1, and ``RenderedMailQueued``): addressed to the
  account by id; what they said kept sealed for it (``accounts.as_written``
  writes it again if it is still to be sent); the address in a mail error
  replaced by the account's id;
- refusals whose reason named someone: the code's declared message;
- stored answers: an account's username and e-mail sealed for it, a refusal's
  detail as above;
- people forgotten before: their key thrown away (their copies, which the old
  erasure redacted or had yet to, read as placeholders), their token and the
  admin's log entries about them deleted; an erasure still in progress is
  settled, its copies being sealed here instead.

It reads the current models: the migration that runs it (``accounts.0005``)
and ``manage.py seal_personal_data`` (for rows an older release wrote after
the migration) run the same code.
"""

import json
from collections.abc import Callable, Iterator
from uuid import UUID

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from messaging import personal
from messaging.features.outbox import SENDING, MailQueued
from messaging.models import Delivery, IdempotentResponse, StoredEvent

from .events import AccountRegistered
from .mails import AS_WRITTEN_MAIL as AS_WRITTEN
from .models import Account
from .refusals import AccountRefusal

BATCH = 500
FORGOTTEN_DOMAIN = "@forgotten.invalid"
NAMING_REFUSALS = (AccountRefusal.BLOCKED, AccountRefusal.ACCOUNT_INACTIVE)  # their reasons once named the account
SUPERSEDED = ("messaging.erasure.erase_next_batch", "accounts.policies.erase_forgotten_copies")
SEND = SENDING
SEND_RENDERED = "messaging.outbox.send_rendered_mail"
NOBODY = UUID(int=0)  # the recipient of a mail whose address no account had: forgotten, so it opens as nothing


def seal_history(
    *, batch_size: int = BATCH, progress: Callable[[str, int], None] = lambda what, done: None, erasures=None
) -> dict[str, int]:
    """Seal every clear copy left; what was done, by kind. ``erasures`` is
    the model of the erasures still in progress, while it exists;
    ``progress(what, done)`` after each batch."""
    done = {}
    addresses = _forget_the_forgotten(erasures, progress, done)
    answers = {"after": 0, "sealed": 0}
    steps = {
        "registrations sealed": lambda: _seal_registrations(batch_size),
        "mails addressed by id": lambda: _address_mails(batch_size, addresses),
        "refusals made nameless": lambda: _nameless_refusals(batch_size),
        "stored answers read": lambda: _seal_answers(batch_size, answers),
    }
    for name, step in steps.items():
        done[name] = 0
        for count in _batches(step):
            done[name] += count
            progress(name, done[name])
    done["stored answers sealed"] = answers["sealed"]
    return done


def _batches(step: Callable[[], int]) -> Iterator[int]:
    """Run ``step`` (one batch, in a transaction of its own) until it finds nothing."""
    while True:
        with transaction.atomic():
            count = step()
        if not count:
            return
        yield count


def _forget_the_forgotten(erasures, progress, done: dict) -> dict[str, UUID]:
    """Throw away the keys of the people forgotten before, delete what still
    names them, settle the erasures in progress; the address of every
    account, forgotten or not, to find who each old mail went to."""
    addresses = {email.lower(): pk for pk, email in Account.objects.values_list("pk", "email")}
    if erasures is not None:
        for erasure in erasures.objects.all():
            forgotten = StoredEvent.objects.filter(event_id=erasure.erasure_id).first()
            if forgotten is not None:
                addresses[erasure.address.lower()] = UUID(forgotten.payload["account_id"])
    forgotten = list(Account.objects.filter(email__endswith=FORGOTTEN_DOMAIN).values_list("pk", flat=True))
    with transaction.atomic():
        for account_id in forgotten:
            personal.forget(account_id)
        Token.objects.filter(user_id__in=forgotten).delete()
        about = ContentType.objects.get_for_model(Account)
        LogEntry.objects.filter(content_type=about, object_id__in=[str(pk) for pk in forgotten]).delete()
        done["erasures settled"] = Delivery.objects.filter(policy__in=SUPERSEDED, status__in=Delivery.OPEN).update(
            status=Delivery.Status.SKIPPED,
            last_error="superseded: forgetting throws away the person's key",
            lease=None,
            next_attempt_at=timezone.now(),
        )
        if erasures is not None:
            erasures.objects.all().delete()
    done["people forgotten before"] = len(forgotten)
    if forgotten:
        progress("people forgotten before", len(forgotten))
    return addresses


def _seal_registrations(batch_size: int) -> int:
    rows = list(
        StoredEvent.objects.filter(type=AccountRegistered.type_name(), version=1).order_by("position")[:batch_size]
    )
    if not rows:
        return 0
    keyring = personal.keys_to_seal_for(UUID(row.payload["account_id"]) for row in rows)
    for row in rows:
        row.payload, row.version = personal.seal_payload(AccountRegistered, row.payload, keyring), 2
    StoredEvent.objects.bulk_update(rows, ["payload", "version"])
    return len(rows)


def _address_mails(batch_size: int, addresses: dict[str, UUID]) -> int:
    old = Q(type=MailQueued.type_name(), version=1) | Q(type="RenderedMailQueued")
    rows = list(StoredEvent.objects.filter(old).order_by("position")[:batch_size])
    if not rows:
        return 0
    recipients = {row.pk: _recipient(row.payload, addresses) for row in rows}
    keyring = personal.keys_to_seal_for(recipients.values())
    for row in rows:
        payload, recipient = row.payload, recipients[row.pk]
        if row.type == "RenderedMailQueued":
            renderer, about, params = payload["renderer"], payload["about"], {}
        else:
            renderer, about = AS_WRITTEN, None
            params = {"subject": payload["subject"], "body": payload["body"]}
            _name_recipient_in_errors(row.event_id, payload["to"], recipient)
        row.type, row.version = MailQueued.type_name(), MailQueued.version
        row.payload = personal.seal_payload(
            MailQueued,
            {
                "message_id": payload["message_id"],
                "recipient_id": str(recipient),
                "renderer": renderer,
                "about": about,
                "params": params,
            },
            keyring,
        )
    StoredEvent.objects.bulk_update(rows, ["type", "version", "payload"])
    Delivery.objects.filter(event__in=[row.event_id for row in rows], policy=SEND_RENDERED).update(policy=SEND)
    return len(rows)


def _recipient(payload: dict, addresses: dict[str, UUID]) -> UUID:
    """The account an old mail went to: the one a reset mail was about, the
    one using (or forgotten with) its address, or nobody known."""
    if "about" in payload:
        return UUID(payload["about"])
    address = payload["to"].lower()
    if address.startswith("forgotten-") and address.endswith(FORGOTTEN_DOMAIN):
        return UUID(address.removeprefix("forgotten-").removesuffix(FORGOTTEN_DOMAIN))
    return addresses.get(address, NOBODY)


def _name_recipient_in_errors(event_id: UUID, address: str, recipient: UUID) -> None:
    # only the columns this migration's schema has (later releases add others)
    for delivery in Delivery.objects.filter(event=event_id, last_error__icontains=address).only("pk", "last_error"):
        delivery.last_error = _replace_address(delivery.last_error, address, f"<account {recipient}>")
        delivery.save(update_fields=["last_error"])


def _replace_address(text: str, address: str, by: str) -> str:
    lowered, start = text.lower(), text.lower().find(address.lower())
    while start >= 0:
        text = text[:start] + by + text[start + len(address) :]
        lowered = text.lower()
        start = lowered.find(address.lower(), start + len(by))
    return text


def _nameless_refusals(batch_size: int) -> int:
    messages = {refusal.value: refusal.message for refusal in NAMING_REFUSALS}
    named = Q()
    for code, message in messages.items():
        named |= Q(payload__code=code) & ~Q(payload__reason=message)
    rows = list(StoredEvent.objects.filter(named, is_rejection=True).order_by("position")[:batch_size])
    for row in rows:
        row.payload = {**row.payload, "reason": messages[row.payload["code"]]}
    StoredEvent.objects.bulk_update(rows, ["payload"])
    return len(rows)


def _seal_answers(batch_size: int, cursor: dict) -> int:
    """The next ``batch_size`` stored answers after ``cursor["after"]``, those
    still holding clear data rewritten (counted in ``cursor["sealed"]``);
    how many were read. Sealed answers are left as they are, so a run that
    stopped reads them again and changes nothing."""
    rows = list(IdempotentResponse.objects.filter(pk__gt=cursor["after"]).order_by("pk")[:batch_size])
    if not rows:
        return 0
    cursor["after"] = rows[-1].pk
    messages = {refusal.value: refusal.message for refusal in NAMING_REFUSALS}
    changed = []
    for row in rows:
        body = json.loads(row.body) if row.body else None
        sealed = _sealed_answer(body, messages)
        if sealed != body:
            row.body = json.dumps(sealed)
            changed.append(row)
    IdempotentResponse.objects.bulk_update(changed, ["body"])
    cursor["sealed"] += len(changed)
    return len(rows)


def _sealed_answer(body, messages: dict[str, str]):
    """An answer with an account's clear username and e-mail sealed for it,
    and a naming refusal's detail made the code's message."""
    if isinstance(body, list):
        return [_sealed_answer(item, messages) for item in body]
    if not isinstance(body, dict):
        return body
    if body.get("code") in messages and "detail" in body:
        return {**body, "detail": messages[body["code"]]}
    if "id" in body and isinstance(body.get("username"), str) and "date_joined" in body:
        subject = UUID(body["id"])
        texts = {name: personal.PersonalText(body[name], subject) for name in ("username", "email") if name in body}
        return personal.seal_answer({**body, **texts})
    return {key: _sealed_answer(item, messages) for key, item in body.items()}
