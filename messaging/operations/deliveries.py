"""An operator's decisions on deliveries, written once for the shell, the
API and the admin, each a thin adapter over ``preview`` and ``run``:

- **retry now**: failed deliveries (waiting for their retry) and dead
  letters become due at once, dead ones with a fresh set of attempts;
- **skip**: settle deliveries without running them (``SKIPPED``), a
  decision recorded with who made it and why;
- **discard**: give up on dead letters; the rows stay, marked discarded.

Each acts on deliveries named by id, or on those a ``Selection`` picks (a
policy, a time window on when the delivery was opened, ...). ``preview`` is
the dry run: how many would change, and a sample, changing nothing. ``run``
acts in bounded batches, each a command through the bus
(``RetryDeliveries``, ``SkipDeliveries``, ``DiscardDeliveries``), so each
batch is one transaction and one event in the log, with the operator as
its actor: the signed-in staff member (the API, the admin), or the account
the shell was given; and the shell always records where it ran
(``origin``: the operating-system user and host), so that a record names
who ran it even when no account acted. A delivery in a worker's hands (leased, the lease still running)
is left alone: a worker is running it now.

Nothing runs a policy here: an HTTP request (the API, the admin) must not
wait on a policy, let alone a mail server. The shell's retry attempts the
rows it reopened itself (``attempt``)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from django.db.models import Q, QuerySet
from django.db.models.functions import Now

from .. import bus, relay
from ..delivery import claiming
from ..messages import Command, Event, Rejection
from ..models import Delivery
from ..refusals import KernelRefusal
from ..registry import registry
from . import log

BATCH = 200
"""Deliveries per command: each batch is one short transaction, however many rows an outage left."""

SAMPLE = 10
"""Deliveries a dry run shows."""

TAKEN = "taken by a worker meanwhile"


class Operation(StrEnum):
    RETRY = "retry"
    SKIP = "skip"
    DISCARD = "discard"


def _free() -> Q:
    """Not in a worker's hands: never leased, or its lease has run out."""
    return Q(lease=None) | Q(next_attempt_at__lte=Now())


ACTS_ON = {
    Operation.RETRY: (Delivery.Status.FAILED, Delivery.Status.DEAD),
    Operation.SKIP: (Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.DEAD),
    Operation.DISCARD: (Delivery.Status.DEAD,),
}
"""The statuses each operation acts on."""


def eligible(operation: Operation) -> Q:
    """The deliveries ``operation`` may act on now: of its statuses, and
    (for open ones) not in a worker's hands; a retry, only failed ones
    still waiting for their retry time (one due already needs no push)."""
    dead = Q(status=Delivery.Status.DEAD)
    if operation == Operation.RETRY:
        return dead | Q(status=Delivery.Status.FAILED, lease=None, next_attempt_at__gt=Now())
    return Q(status__in=ACTS_ON[operation]) & (dead | _free())


# --- the recorded commands and their events ------------------------------------------


# ``origin`` on each: where an operator ran it from the shell (``user@host``,
# the operating-system user), "" from the API and the admin, whose actor is
# the signed-in staff member. It is no account: the shell authenticates none.


@dataclass(frozen=True, kw_only=True)
class RetryDeliveries(Command):
    """An operator makes failed or dead-lettered deliveries due now (dead
    ones with a fresh set of attempts)."""

    delivery_ids: list[int]
    reason: str = ""
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class SkipDeliveries(Command):
    """An operator settles deliveries without running them, and says why."""

    delivery_ids: list[int]
    reason: str
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class DiscardDeliveries(Command):
    """An operator gives up on dead letters."""

    delivery_ids: list[int]
    reason: str = ""
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class DeliveriesRetried(Event):
    delivery_ids: list[int]
    reason: str = ""
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class DeliveriesSkipped(Event):
    delivery_ids: list[int]
    reason: str
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class DeliveriesDiscarded(Event):
    delivery_ids: list[int]
    reason: str = ""
    origin: str = ""


@dataclass(frozen=True, kw_only=True)
class DeliveryOperationRejected(Rejection):
    """An operator's retry, skip or discard of deliveries none of which it may act on."""


REFUSALS = {
    Operation.RETRY: KernelRefusal.NOT_RETRYABLE,
    Operation.SKIP: KernelRefusal.NOT_SKIPPABLE,
    Operation.DISCARD: KernelRefusal.NOT_DEAD_LETTERED,
}
_NOT = {
    Operation.RETRY: "not failed or dead-lettered",
    Operation.SKIP: "not waiting (pending, failed or dead-lettered)",
    Operation.DISCARD: "not dead-lettered",
}


def _locked(operation: Operation, delivery_ids: list[int]) -> list[int]:
    """Those of ``delivery_ids`` that ``operation`` may act on, locked until
    the command commits (a worker claiming one meanwhile waits, then finds
    it changed); refuses when there is none."""
    found = list(
        Delivery.objects.select_for_update()
        .filter(eligible(operation), pk__in=delivery_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not found:
        raise DeliveryOperationRejected.refuse(REFUSALS[operation], why_not(operation, delivery_ids))
    return found


def why_not(operation: Operation, delivery_ids: list[int]) -> str:
    """Why ``operation`` may act on none of ``delivery_ids`` (the first few)."""
    rows = Delivery.objects.filter(pk__in=delivery_ids).order_by("pk")[:5]
    reasons = [
        f"delivery {row.pk} is {row.status}, {_NOT[operation]}"
        if row.status not in ACTS_ON[operation]
        else f"delivery {row.pk} is due already"
        if row.lease is None
        else f"delivery {row.pk} is in a worker's hands"
        for row in rows
    ]
    return "; ".join(reasons) or f"no delivery {', '.join(map(str, delivery_ids[:5]))}"


def retry_deliveries(command: RetryDeliveries) -> list[Event]:
    """Make the failed and dead ones of ``command.delivery_ids`` due now."""
    ids = _locked(Operation.RETRY, command.delivery_ids)
    claiming.reopen(ids)  # the dead ones: fresh attempts
    Delivery.objects.filter(pk__in=ids, status=Delivery.Status.FAILED).update(next_attempt_at=Now(), lease=None)
    return [DeliveriesRetried(delivery_ids=ids, reason=command.reason, origin=command.origin)]


def skip_deliveries(command: SkipDeliveries) -> list[Event]:
    """Settle the waiting ones of ``command.delivery_ids`` as skipped, saying who and why."""
    reason = command.reason.strip()
    if not reason:
        raise DeliveryOperationRejected.refuse(KernelRefusal.REASON_REQUIRED)
    ids = _locked(Operation.SKIP, command.delivery_ids)
    who = registry.names({command.actor_id}).get(command.actor_id) if command.actor_id else None
    Delivery.objects.filter(pk__in=ids).update(
        status=Delivery.Status.SKIPPED,
        lease=None,
        last_error=f"skipped by {who or command.origin or 'an operator'}: {reason}",
        delivered_at=None,
    )
    return [DeliveriesSkipped(delivery_ids=ids, reason=reason, origin=command.origin)]


def discard_deliveries(command: DiscardDeliveries) -> list[Event]:
    """Mark the dead ones of ``command.delivery_ids`` discarded."""
    ids = _locked(Operation.DISCARD, command.delivery_ids)
    claiming.discard(ids)
    return [DeliveriesDiscarded(delivery_ids=ids, reason=command.reason, origin=command.origin)]


COMMANDS: dict[Operation, type[Command]] = {
    Operation.RETRY: RetryDeliveries,
    Operation.SKIP: SkipDeliveries,
    Operation.DISCARD: DiscardDeliveries,
}


# --- selecting, previewing and running -----------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which deliveries an operation is meant for: named by id, or picked by
    any of a policy, an event type, a time window on when the delivery was
    opened (``since``/``until``: a datetime, or an age before now by the
    database's clock), a request's correlation id; ``dead_only`` narrows a
    retry to dead letters; ``within`` to the rows of a queryset (the admin's
    selection, however many pages it spans)."""

    ids: tuple[int, ...] = ()
    policy: str | None = None
    event_type: str | None = None
    since: datetime | timedelta | None = None
    until: datetime | timedelta | None = None
    correlation_id: UUID | None = None
    dead_only: bool = False
    within: QuerySet[Delivery] | None = None

    def rows(self, operation: Operation) -> QuerySet[Delivery]:
        """The deliveries ``operation`` would act on now, oldest first."""
        rows = log.deliveries(
            policy=self.policy,
            event_type=self.event_type,
            since=self.since,
            until=self.until,
            correlation_id=self.correlation_id,
        ).filter(eligible(operation))
        if self.ids:
            rows = rows.filter(pk__in=list(self.ids))
        if self.dead_only:
            rows = rows.filter(status=Delivery.Status.DEAD)
        if self.within is not None:
            rows = rows.filter(pk__in=self.within.order_by().values("pk"))
        return rows.order_by("pk")


@dataclass(frozen=True)
class Preview:
    """A dry run: how many deliveries the operation would act on, and the first few."""

    operation: Operation
    count: int
    sample: list[Delivery]


def preview(operation: Operation, selection: Selection, *, sample: int = SAMPLE) -> Preview:
    """What ``run`` would act on now, changing nothing."""
    rows = selection.rows(operation)
    return Preview(operation, rows.count(), list(rows[:sample]))


@dataclass
class Outcome:
    """What ``run`` did: the deliveries it acted on, the events that
    recorded it (one per batch), and the batches refused (each its reason:
    every row of it was taken meanwhile)."""

    operation: Operation
    acted: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    remaining: int = 0


def run(
    operation: Operation,
    selection: Selection,
    *,
    actor_id: UUID | None = None,
    origin: str = "",
    reason: str = "",
    correlation_id: UUID | None = None,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Act on the selected deliveries, ``batch`` at a time, each batch one
    command (one transaction, one event with ``actor_id`` as its actor and
    ``origin``, the shell's ``user@host``, as where it was run from), at
    most ``limit`` of them (``Outcome.remaining`` says how many are left).
    Batches are read by id after the last one, so a row changed meanwhile is
    never read twice; a row a worker took meanwhile is left out by the
    handler. ``progress`` is called after each batch."""
    outcome = Outcome(operation)
    command_type = COMMANDS[operation]
    after = 0
    rows = selection.rows(operation)
    while limit is None or len(outcome.acted) < limit:
        size = batch if limit is None else min(batch, limit - len(outcome.acted))
        chunk = list(rows.filter(pk__gt=after).values_list("pk", flat=True)[:size])
        if not chunk:
            break
        after = chunk[-1]
        result = bus.dispatch(
            command_type(
                delivery_ids=chunk, reason=reason, origin=origin, actor_id=actor_id, correlation_id=correlation_id
            )
        )
        if isinstance(rejection := result.events[0], Rejection):
            outcome.refused.append(rejection.reason)
            if rejection.code == KernelRefusal.REASON_REQUIRED:
                break
        else:
            outcome.acted.extend(result.events[0].delivery_ids)
            outcome.events.extend(result.events)
        if progress is not None:
            progress(outcome)
    if limit is not None:
        outcome.remaining = rows.filter(pk__gt=after).count()
    return outcome


def attempt(delivery_ids: Iterable[int]) -> dict[int, str]:
    """The shell's "retry now": attempt each of ``delivery_ids`` (reopened
    by ``run``) here; for each, its new status, or ``TAKEN`` when a live
    worker took it first (it runs there, once: neither a failure nor a
    second run)."""
    return {pk: relay.deliver(pk) or TAKEN for pk in delivery_ids}
