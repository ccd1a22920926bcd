"""Layers around every dispatch. Each takes ``(command, call_next)`` and
returns the ``Result``; the order is set in ``bus.MIDDLEWARE``."""

import logging
import random
import time

from django.db import DatabaseError

from .ambient import correlated, current_cause
from .idempotency import KeyConflict
from .messages import Command, Next, Result

logger = logging.getLogger("messaging.bus")

MAX_ATTEMPTS = 4
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def log_dispatch(command: Command, call_next: Next) -> Result:
    """Log each command and its outcome with the correlation id, the facts
    also as fields (``command``, ``command_id``, ``outcome``: accepted,
    replayed, rejected or failed, ``events``, ``refusal``, ``duration_ms``)
    for JSON lines.

    Only the type and ids are logged, never the payload: a payload may
    hold a password.
    """
    facts = {"command": command.type_name(), "command_id": str(command.command_id)}
    with correlated(command.correlation_id):
        try:
            result = call_next(command)
        except Exception:
            logger.exception("%s %s failed", command.type_name(), command.command_id, extra=facts | _FAILED)
            raise
        if result.rejection:
            said, facts["outcome"], facts["refusal"] = (
                f"rejected ({result.rejection.code})",
                "rejected",
                result.rejection.code,
            )
        else:
            said = f"{len(result.events)} event(s){' (replayed)' if result.replayed else ''}"
            facts["outcome"], facts["events"] = "replayed" if result.replayed else "accepted", len(result.events)
        facts["duration_ms"] = round(result.duration_ms or 0.0, 3)
        logger.info(
            "%s %s -> %s in %.1f ms", command.type_name(), command.command_id, said, facts["duration_ms"], extra=facts
        )
        return result


_FAILED = {"outcome": "failed"}


def time_dispatch(command: Command, call_next: Next) -> Result:
    """Measure the dispatch, transaction and commit included."""
    started = time.perf_counter()
    result = call_next(command)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def retry_on_conflict(command: Command, call_next: Next) -> Result:
    """Run the whole command again when the database aborted it for a
    conflict that a new attempt resolves: a deadlock, a serialization
    failure, or the same idempotency key stored concurrently. Only at the
    top level: inside a delivery the delivery's own retry takes over."""
    if current_cause.get() is not None:
        return call_next(command)
    attempt = 1
    while True:
        try:
            return call_next(command)
        except (KeyConflict, DatabaseError) as error:
            if attempt == MAX_ATTEMPTS or not _retryable(error):
                raise
            logger.info("%s %s conflicted (%s), attempt %d", command.type_name(), command.command_id, error, attempt)
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
            attempt += 1


def _retryable(error: Exception) -> bool:
    return isinstance(error, KeyConflict) or is_conflict(error)


def is_conflict(error: Exception) -> bool:
    """Whether the database aborted the work for a conflict that running it
    again resolves: a deadlock or a serialization failure (PostgreSQL)."""
    return getattr(error.__cause__, "sqlstate", None) in _RETRYABLE_SQLSTATES
