"""The HTTP answer given for an ``Idempotency-Key``, kept so that a repeat
of the request gets it back (``interfaces.api_commands`` decides when it is
written and replayed).

The bus already makes a repeated command have no second effect
(``messaging.idempotency``); this is only what was answered. The row
(``IdempotentResponse``) stays in the kernel's tables beside
``ProcessedCommand``, the two records of one key.
"""

import time
from contextlib import nullcontext
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messaging import sql
from messaging.models import IdempotentResponse


def stored_response(actor_id: UUID | None, key: str) -> IdempotentResponse | None:
    """The answer stored for this actor's key, if any."""
    found = sql.find(IdempotentResponse, actor=str(actor_id or ""), idempotency_key=key)
    return found[0] if found else None


def store_response(
    *, actor_id: UUID | None, key: str, request_fingerprint: str, status: int, body: str
) -> tuple[IdempotentResponse, bool]:
    """Store the answer for this key unless one is there already.

    Returns the stored answer and whether it is the one given here: the
    first writer wins (a unique constraint decides), so a key has exactly
    one answer. Outside a transaction (after the command's commit, as the
    API stores it) the INSERT is its own transaction; a savepoint guards it
    only inside one.
    """
    row = {
        "actor": str(actor_id or ""),
        "idempotency_key": key,
        "request_fingerprint": request_fingerprint,
        "status": status,
        "body": body,
        "created_at": timezone.now(),
    }
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            sql.insert(IdempotentResponse, [row])  # built once: every keyed write stores its answer
        return IdempotentResponse(**row), True
    except IntegrityError:
        return stored_response(actor_id, key), False


def await_response(actor_id: UUID | None, key: str, *, seconds: float) -> IdempotentResponse | None:
    """Poll for the answer another request is about to store for this key."""
    deadline = time.monotonic() + seconds
    while (response := stored_response(actor_id, key)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return response
