"""Remembering commands sent with an idempotency key, and what was answered.

A key belongs to its actor: two people may use the same key. What is
compared is a keyed hash of the command's type and payload, so a password
inside a payload is never stored, not even as a plain hash.

The HTTP answer given for a key is kept beside it (``IdempotentResponse``);
``interfaces.api`` decides when it is written and replayed.
"""

import json
import time
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from .messages import Command, Event
from .models import IdempotentResponse, ProcessedCommand


class KeyConflict(Exception):
    """Another transaction stored the same key first; retrying replays its result."""


def fingerprint(command: Command) -> str:
    canonical = json.dumps([command.type_name(), command.payload()], sort_keys=True)
    return salted_hmac("messaging.idempotency", canonical, algorithm="sha256").hexdigest()


def _actor(command: Command) -> str:
    return str(command.actor_id or "")


def previous(command: Command) -> ProcessedCommand | None:
    """The earlier dispatch with this command's actor and key, if any."""
    return ProcessedCommand.objects.filter(actor=_actor(command), idempotency_key=command.idempotency_key).first()


def matches(previous: ProcessedCommand, command: Command) -> bool:
    return previous.command_type == command.type_name() and previous.fingerprint == fingerprint(command)


def remember(command: Command, events: list[Event]) -> None:
    """Store the key with the events it produced, in the current transaction.

    A concurrent dispatch with the same key makes the insert fail (on
    PostgreSQL it waits for the other transaction first); ``KeyConflict``
    aborts this transaction and the bus retries, which then replays.
    """
    try:
        with transaction.atomic():
            ProcessedCommand.objects.create(
                actor=_actor(command),
                idempotency_key=command.idempotency_key,
                command_type=command.type_name(),
                fingerprint=fingerprint(command),
                event_ids=[str(event.event_id) for event in events],
            )
    except IntegrityError as error:
        raise KeyConflict(command.idempotency_key) from error


def stored_response(actor_id: UUID | None, key: str) -> IdempotentResponse | None:
    """The answer stored for this actor's key, if any."""
    return IdempotentResponse.objects.filter(actor=str(actor_id or ""), idempotency_key=key).first()


def store_response(
    *, actor_id: UUID | None, key: str, request_fingerprint: str, status: int, body: str
) -> tuple[IdempotentResponse, bool]:
    """Store the answer for this key unless one is there already.

    Returns the stored answer and whether it is the one given here: the
    first writer wins (a unique constraint decides), so a key has exactly
    one answer.
    """
    try:
        with transaction.atomic():
            response = IdempotentResponse.objects.create(
                actor=str(actor_id or ""),
                idempotency_key=key,
                request_fingerprint=request_fingerprint,
                status=status,
                body=body,
            )
        return response, True
    except IntegrityError:
        return stored_response(actor_id, key), False


def await_response(actor_id: UUID | None, key: str, *, seconds: float) -> IdempotentResponse | None:
    """Poll for the answer another request is about to store for this key."""
    deadline = time.monotonic() + seconds
    while (response := stored_response(actor_id, key)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return response
