"""Remembering commands sent with an idempotency key.

A key belongs to its actor: two people may use the same key. What is
compared is a keyed hash of the command's type and payload, so a password
inside a payload is never stored, not even as a plain hash.

The HTTP answer given for a key is the interface layer's
(``interfaces.http_idempotency``).
"""

import json

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import sql
from .messages import Command, Event
from .models import ProcessedCommand


class KeyConflict(Exception):
    """Another transaction stored the same key first; retrying replays its result."""


def fingerprint(command: Command) -> str:
    canonical = json.dumps([command.type_name(), command.payload()], sort_keys=True)
    return salted_hmac("messaging.idempotency", canonical, algorithm="sha256").hexdigest()


def _actor(command: Command) -> str:
    return str(command.actor_id or "")


def previous(command: Command) -> ProcessedCommand | None:
    """The earlier dispatch with this command's actor and key, if any (a
    statement built once: every keyed command reads it)."""
    found = sql.find(ProcessedCommand, actor=_actor(command), idempotency_key=command.idempotency_key)
    return found[0] if found else None


def matches(previous: ProcessedCommand, command: Command) -> bool:
    return previous.command_type == command.type_name() and previous.fingerprint == fingerprint(command)


def remember(command: Command, events: list[Event]) -> None:
    """Store the key with the events it produced, in the current transaction.

    A concurrent dispatch with the same key makes the insert fail (on
    PostgreSQL it waits for the other transaction first); ``KeyConflict``
    aborts this transaction and the bus retries, which then replays. No
    savepoint of its own (two round trips on every keyed command): nothing
    goes on after a conflict, the whole transaction (or the delivery's
    savepoint) is undone with it.
    """
    try:
        with transaction.atomic(savepoint=False):
            sql.insert(
                ProcessedCommand,
                [
                    {
                        "actor": _actor(command),
                        "idempotency_key": command.idempotency_key,
                        "command_type": command.type_name(),
                        "fingerprint": fingerprint(command),
                        "event_ids": [str(event.event_id) for event in events],
                        "created_at": timezone.now(),
                    }
                ],
            )
    except IntegrityError as error:
        raise KeyConflict(command.idempotency_key) from error
