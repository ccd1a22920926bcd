"""Personal data: declared where it is stored, sealed under a key of its
subject's own, forgotten by throwing that key away (crypto-shredding).

A field says whose data it holds (``personal(of="account_id")``); the store
seals it on write and opens it on read. ``forget`` empties the subject's key
in one statement, so forgetting searches nothing: every sealed copy reads as
its placeholder from then on. See docs/architecture.md, "Personal data,
sealed per person".
"""

import base64
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from . import sql
from .conf import conf
from .models import PersonalDataKey
from .registry import registry

FORGOTTEN = "(forgotten)"
"""What a sealed text reads as once its subject is forgotten, unless its declaration says otherwise."""

_NONCE = 12
_EMPTY = (None, "", {}, [])  # sealed as they are: an empty value tells nothing about anyone
_PERSONAL = "personal_data_of"


@dataclass(frozen=True)
class Declared:
    """A field holding personal data: ``subject`` names the field that holds
    whose it is; ``placeholder`` is what it reads as once they are forgotten
    (a value of the field's own type)."""

    subject: str
    placeholder: object = FORGOTTEN


def personal(*, of: str, placeholder: object = FORGOTTEN):
    """Declare a dataclass field as personal data of the account named by
    field ``of`` (the field must be required or carry its own default)."""
    return dataclasses.field(metadata={_PERSONAL: Declared(subject=of, placeholder=placeholder)})


@cache
def declared(cls) -> dict[str, Declared]:
    """The personal fields a message class declares, by name."""
    return {f.name: f.metadata[_PERSONAL] for f in dataclasses.fields(cls) if _PERSONAL in f.metadata}


def subjects_of(cls, payload: dict) -> set[UUID]:
    """The people whose data a payload of ``cls`` holds."""
    return {
        UUID(str(payload[d.subject]))
        for name, d in declared(cls).items()
        if payload.get(d.subject) and payload.get(name) not in _EMPTY
    }


class PersonalText(str):
    """A text in an HTTP answer that is ``subject``'s personal data: rendered
    as plain text, sealed when the answer is stored (``seal_answer``)."""

    subject: UUID

    def __new__(cls, value: str, subject: UUID):
        text = super().__new__(cls, value)
        text.subject = subject
        return text


# --- Keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class _WrappingKey:
    id: str
    aead: AESGCM


@cache
def _wrapping_keys(configured: tuple[str, ...]) -> tuple[_WrappingKey, ...]:
    keys = []
    for text in configured:
        try:
            raw = base64.urlsafe_b64decode(text.encode())
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured("Each PERSONAL_DATA_KEYS entry is 32 random bytes in URL-safe base64.")
        keys.append(_WrappingKey(id=hashlib.sha256(raw).hexdigest()[:16], aead=AESGCM(raw)))
    if not keys:
        raise ImproperlyConfigured("PERSONAL_DATA_KEYS is empty: set at least one key.")
    return tuple(keys)


def wrapping_keys() -> tuple[_WrappingKey, ...]:
    """The wrapping keys of the settings, the current one first."""
    return _wrapping_keys(tuple(conf.MESSAGING_PERSONAL_DATA_KEYS))


def _wrap(subject: UUID, data_key: bytes) -> tuple[bytes, str]:
    current = wrapping_keys()[0]
    nonce = os.urandom(_NONCE)
    return nonce + current.aead.encrypt(nonce, data_key, subject.bytes), current.id


def _unwrap(row: PersonalDataKey) -> AESGCM:
    return AESGCM(_data_key(row))


def _data_key(row: PersonalDataKey) -> bytes:
    wrapped = bytes(row.key)
    for key in wrapping_keys():
        if key.id == row.wrapped_with:
            return key.aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], row.subject.bytes)
    raise ImproperlyConfigured(
        f"The data key of {row.subject} was wrapped by key {row.wrapped_with},"
        " which PERSONAL_DATA_KEYS no longer holds."
    )


class Keyring:
    """The data keys of some subjects, read once for one piece of work. A
    subject with no key (forgotten, or never given one) opens nothing."""

    def __init__(self, rows: Iterable[PersonalDataKey]):
        self._rows = {row.subject: row for row in rows}
        self._opened: dict[UUID, AESGCM | None] = {}

    def hold(self, data_keys: dict[UUID, bytes]) -> None:
        """Keep keys just made (and stored) in hand, unwrapped."""
        self._opened.update({subject: AESGCM(data_key) for subject, data_key in data_keys.items()})

    def key(self, subject: UUID) -> AESGCM | None:
        if subject not in self._opened:
            row = self._rows.get(subject)
            self._opened[subject] = _unwrap(row) if row is not None and row.key is not None else None
        return self._opened[subject]


def keys_for(subjects: Iterable[UUID]) -> Keyring:
    """The keys of ``subjects`` as they are now (one read; none for no one)."""
    subjects = set(subjects)
    return Keyring(PersonalDataKey.objects.filter(subject__in=subjects) if subjects else ())


def keys_to_seal_for(subjects: Iterable[UUID]) -> Keyring:
    """The keys to seal data of ``subjects`` with: a subject seen for the
    first time gets a new key (in the caller's transaction); a forgotten one
    keeps none, so what is sealed for them is stored as its placeholder.

    One statement when every subject is new (a registration): the new keys
    are offered in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` and
    kept in hand, unwrapped; the subjects that had a row already are read
    in a second one."""
    subjects = set(subjects)
    if not subjects:
        return Keyring(())
    offered = {subject: AESGCM.generate_key(bit_length=256) for subject in subjects}
    inserted = _insert_keys(offered)
    keyring = Keyring(PersonalDataKey.objects.filter(subject__in=subjects - inserted) if subjects - inserted else ())
    keyring.hold({subject: offered[subject] for subject in inserted})
    return keyring


def _insert_keys(offered: dict[UUID, bytes]) -> set[UUID]:
    """Store a wrapped key for each subject that has no row; the subjects stored."""
    now, rows = timezone.now(), []
    for subject, data_key in offered.items():
        wrapped, wrapped_with = _wrap(subject, data_key)
        rows.append({"subject": subject, "key": wrapped, "wrapped_with": wrapped_with, "created_at": now})
    returned = sql.insert(PersonalDataKey, rows, returning=("subject",), skip_existing=True)
    return {value if isinstance(value, UUID) else UUID(value) for (value,) in returned}


def forget(subject: UUID) -> bool:
    """Throw away ``subject``'s data key: every copy sealed with it becomes
    unreadable at once, and what is sealed for them from now on is stored as
    its placeholder. One row, whatever the history; ``False`` if they were
    forgotten already. Run it in the forgetting command's transaction."""
    updated = PersonalDataKey.objects.filter(subject=subject, forgotten_at__isnull=True).update(
        key=None, wrapped_with="", forgotten_at=timezone.now()
    )
    if updated:
        return True
    _, created = PersonalDataKey.objects.get_or_create(
        subject=subject, defaults={"key": None, "forgotten_at": timezone.now()}
    )
    return created


def rewrap(*, batch_size: int = 500) -> Iterator[int]:
    """Wrap every data key not wrapped by the current wrapping key with it,
    a batch per transaction; yields how many each batch rewrapped. The data
    keys themselves, and so every sealed copy, stay as they are."""
    current = wrapping_keys()[0]
    while True:
        with transaction.atomic():
            rows = list(
                PersonalDataKey.objects.select_for_update()
                .filter(key__isnull=False)
                .exclude(wrapped_with=current.id)
                .order_by("subject")[:batch_size]
            )
            for row in rows:
                row.key, row.wrapped_with = _wrap(row.subject, _data_key(row))
            PersonalDataKey.objects.bulk_update(rows, ["key", "wrapped_with"])
        if not rows:
            return
        yield len(rows)


def is_forgotten(subject: UUID) -> bool:
    """Whether ``subject`` was forgotten."""
    return PersonalDataKey.objects.filter(subject=subject, forgotten_at__isnull=False).exists()


# --- Sealing ------------------------------------------------------------------


def _aad(subject: UUID, name: str) -> bytes:
    """What a sealed value is bound to: moved to another subject or field, it no longer opens."""
    return subject.bytes + name.encode()


def seal_value(keyring: Keyring, subject: UUID, name: str, value, placeholder=FORGOTTEN):
    """``value`` (JSON primitives) sealed for ``subject`` as field ``name``:
    a URL-safe base64 text; the placeholder when they are forgotten."""
    if value in _EMPTY:
        return value  # nothing to hide, and no key to read
    key = keyring.key(subject)
    if key is None:
        return placeholder
    nonce = os.urandom(_NONCE)
    sealed = key.encrypt(nonce, json.dumps(value, separators=(",", ":")).encode(), _aad(subject, name))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_value(keyring: Keyring, subject: UUID, name: str, sealed, placeholder=FORGOTTEN):
    """The value ``seal_value`` sealed; the placeholder when the subject's
    key is gone (or the value is the placeholder stored for a forgotten one)."""
    if sealed in _EMPTY:
        return sealed
    key = keyring.key(subject)
    if key is None or not isinstance(sealed, str):
        return placeholder
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return json.loads(key.decrypt(raw[:_NONCE], raw[_NONCE:], _aad(subject, name)))
    except (ValueError, InvalidTag):
        return placeholder


def seal_payload(cls, payload: dict, keyring: Keyring) -> dict:
    """A payload of message class ``cls`` with its declared fields sealed."""
    return _each_declared(cls, payload, keyring, seal_value)


def open_payload(cls, payload: dict, keyring: Keyring) -> dict:
    """A stored payload of ``cls`` with its declared fields opened (their
    placeholders where the subject was forgotten)."""
    return _each_declared(cls, payload, keyring, open_value)


def _each_declared(cls, payload: dict, keyring: Keyring, apply) -> dict:
    """``payload`` with ``apply`` (``seal_value`` or ``open_value``) run on
    each field ``cls`` declares personal, for that field's subject."""
    fields = declared(cls)
    if not fields:
        return payload
    return {
        name: apply(keyring, UUID(str(payload[d.subject])), name, value, d.placeholder)
        if (d := fields.get(name)) and payload.get(d.subject)
        else value
        for name, value in payload.items()
    }


def opened_rows(rows: list) -> list:
    """Stored event rows for display (the trace, the events API, the shell):
    each payload with its personal fields opened (placeholders for the
    forgotten), in memory only, with one read of the keys. Never save them."""
    typed = [(row, registry.events.get(row.type)) for row in rows]
    subjects = {subject for row, cls in typed if cls for subject in subjects_of(cls, row.payload)}
    if subjects:
        keyring = keys_for(subjects)
        for row, cls in typed:
            if cls and declared(cls):
                row.payload = open_payload(cls, row.payload, keyring)
    return rows


# --- Stored answers -----------------------------------------------------------

_SEALED = "$personal"  # the key of a sealed text in a stored answer: no answer of ours has it


def _texts(data) -> Iterable[PersonalText]:
    if isinstance(data, PersonalText):
        yield data
    elif isinstance(data, dict):
        for item in data.values():
            yield from _texts(item)
    elif isinstance(data, list):
        for item in data:
            yield from _texts(item)


def seal_answer(data):
    """An HTTP answer's data (primitives) ready to store: each
    ``PersonalText`` sealed for its subject as ``{"$personal": subject, "sealed": ...}``."""
    keyring = keys_to_seal_for(text.subject for text in _texts(data))

    def seal(value, name: str = ""):
        if isinstance(value, PersonalText):
            return {_SEALED: str(value.subject), "sealed": seal_value(keyring, value.subject, name, str(value))}
        if isinstance(value, dict):
            return {key: seal(item, key) for key, item in value.items()}
        if isinstance(value, list):
            return [seal(item, name) for item in value]
        return value

    return seal(data)


def open_answer(data):
    """A stored answer as it was given, each sealed text opened (the
    placeholder where its subject was forgotten)."""
    subjects = set()

    def find(value):
        if isinstance(value, dict):
            if _SEALED in value:
                subjects.add(UUID(value[_SEALED]))
            else:
                for item in value.values():
                    find(item)
        elif isinstance(value, list):
            for item in value:
                find(item)

    find(data)
    if not subjects:
        return data
    keyring = keys_for(subjects)

    def open_(value, name: str = ""):
        if isinstance(value, dict):
            if _SEALED in value:
                return open_value(keyring, UUID(value[_SEALED]), name, value["sealed"])
            return {key: open_(item, key) for key, item in value.items()}
        if isinstance(value, list):
            return [open_(item, name) for item in value]
        return value

    return open_(data)
