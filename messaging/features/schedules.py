"""Commands that wait for their time.

A handler schedules a command (``schedule``) in its own transaction, and
another command calls it off by its key (``cancel``) in that one's.
``dispatch_due`` (the relay, the Celery sweep) locks each due row ``SKIP
LOCKED``, dispatches its command and marks it done in one transaction, so
it runs exactly once. See docs/architecture.md, "Commands that wait for
their time".
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from .. import bus, sql
from ..ambient import Cause, caused_by, correlated
from ..conf import conf
from ..messages import Command, Event, Rejection
from ..models import ScheduledCommand, Sweep
from ..refusals import KernelRefusal
from ..registry import registry
from ..serialization import build

logger = logging.getLogger(__name__)

SCHEDULER = "messaging.schedules"  # the "policy" the trace names as the issuer of a scheduled command
SWEEP = "schedules"  # the name of their sweep's ``Sweep`` row


def schedule(command: Command, *, after: timedelta, key: str, by: Command) -> None:
    """Keep ``command`` to be dispatched once ``after`` has passed by the
    database's clock (never the host's: hosts disagree), under ``key``
    (what ``cancel`` names it by). ``by`` is the command being
    handled: the schedule is stored in its transaction, with its correlation
    id and actor. ``RegistryError`` for a command not registered as
    schedulable."""
    registry.require_schedulable(type(command))
    # Every order schedules its expiry: an INSERT built once (``sql.insert``), not compiled by the ORM each time.
    sql.insert(
        ScheduledCommand,
        [
            {
                "schedule_id": uuid4(),
                "key": key,
                "command_type": command.type_name(),
                "payload": command.payload(),
                "not_before": after,
                "status": ScheduledCommand.Status.WAITING.value,
                "correlation_id": by.correlation_id,
                "scheduled_by": by.command_id,
                "actor_id": by.actor_id,
                "attempts": 0,
                "last_error": "",
                "created_at": timezone.now(),
            }
        ],
        later=("not_before",),
    )


def cancel(key: str) -> int:
    """Cancel the schedule of ``key`` that still waits, in the caller's
    transaction; how many were cancelled (0 or 1). A schedule being
    dispatched right now is locked: this waits for it, then finds it done."""
    return ScheduledCommand.objects.filter(key=key, status=ScheduledCommand.Status.WAITING).update(
        status=ScheduledCommand.Status.CANCELLED, settled_at=Now()
    )


def dispatch_due(limit: int, *, seconds: float | None = None) -> Counter:
    """Dispatch up to ``limit`` waiting schedules whose time has come (by the
    database's clock), each in its own transaction; their new statuses
    counted ("skipped" for one another worker took first). With
    ``seconds``, stop once that long has passed (at least one is
    dispatched): the rest stay due for the next run, so a deep backlog
    never holds a sweep for long. The sweep's time is recorded first
    (``Sweep``), so a stopped beat is seen."""
    if not Sweep.objects.filter(name=SWEEP).update(swept_at=Now()):
        Sweep.objects.get_or_create(name=SWEEP, defaults={"swept_at": Now()})
    due = (
        ScheduledCommand.objects.filter(status=ScheduledCommand.Status.WAITING, not_before__lte=Now())
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    outcomes = Counter()
    until = None if seconds is None else time.monotonic() + seconds
    for pk in list(due):
        outcomes[_dispatch(pk) or "skipped"] += 1
        if until is not None and time.monotonic() >= until:
            break
    return outcomes


def _dispatch(pk: int) -> str | None:
    with transaction.atomic(durable=True):
        row = (
            ScheduledCommand.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=ScheduledCommand.Status.WAITING, not_before__lte=Now())
            .first()
        )
        if row is None:
            return None
        row.attempts += 1
        with correlated(row.correlation_id):
            try:
                command = build(registry.command_type(row.command_type), row.payload)
                with transaction.atomic(), caused_by(Cause(row.correlation_id, row.schedule_id, SCHEDULER)):
                    bus.dispatch(command)
            except Exception as error:
                _record_failure(row, error)
            else:
                row.status, row.settled_at, row.last_error = ScheduledCommand.Status.DONE, Now(), ""
        row.save(update_fields=["status", "attempts", "last_error", "not_before", "settled_at"])
        return row.status


def _record_failure(row: ScheduledCommand, error: Exception) -> None:
    row.last_error = f"{type(error).__name__}: {error}"
    if row.attempts >= conf.MESSAGING_MAX_ATTEMPTS:
        row.status = ScheduledCommand.Status.DEAD
        logger.error("dead-lettered the schedule %s after %d attempt(s): %s", row.key, row.attempts, row.last_error)
        return
    backoff = conf.MESSAGING_RETRY_BASE_SECONDS * 2 ** (row.attempts - 1)
    row.not_before = Now() + timedelta(seconds=backoff)
    logger.warning(
        "schedule %s failed (attempt %d, retry in %.0fs): %s", row.key, row.attempts, backoff, row.last_error
    )


@dataclass(frozen=True, kw_only=True)
class CancelSchedule(Command):
    """An operator calls off a waiting schedule (by its key)."""

    key: str


@dataclass(frozen=True, kw_only=True)
class ScheduleCancelled(Event):
    key: str
    command_type: str


@dataclass(frozen=True, kw_only=True)
class ScheduleRejected(Rejection):
    """A cancellation of a schedule that no longer waits (or never did)."""


def cancel_schedule(command: CancelSchedule) -> list[Event]:
    """Cancel the waiting schedule of ``command.key``; refused when none waits."""
    waiting = ScheduledCommand.objects.filter(key=command.key, status=ScheduledCommand.Status.WAITING).first()
    if waiting is None or not cancel(command.key):
        raise ScheduleRejected.refuse(KernelRefusal.NOT_SCHEDULED)
    return [ScheduleCancelled(key=command.key, command_type=waiting.command_type)]
