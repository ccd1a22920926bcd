"""The command bus: the only way state changes.

``dispatch(command)`` completes the command's metadata, then runs it
through the middleware chain::

    trace -> log -> time -> retry on conflict -> transaction -> idempotency -> handle

``handle`` calls the one registered handler, appends the events it
returns (or the rejection it raised) to the event store in the same
transaction, and asks for the resulting deliveries to run once that
transaction commits. A top-level dispatch opens a durable transaction,
so nobody can wrap it in a larger one by mistake; commands issued by a
policy join the delivery's transaction instead.

A refusal leaves nothing its handler wrote. Inside a delivery the handler
runs in a savepoint for that. At the top level the command's transaction
is its own, so no savepoint is paid for on every command: a refusal rolls
the whole transaction back and the rejection is recorded in a new one.
"""

import dataclasses
import time
from collections import Counter
from contextvars import ContextVar
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from . import claiming, delivery, idempotency, middleware, store, telemetry
from .context import current_cause
from .messages import Command, CommandRejected, Event, IdempotencyKeyReused, Next, Refused, Rejection, Result
from .registry import registry


def dispatch(command: Command) -> Result:
    """Run ``command`` through the middleware chain and its handler."""
    command = _with_metadata(command)
    call = handle
    for layer in reversed(MIDDLEWARE):
        call = partial(layer, call_next=call)
    return call(command)


def handle(command: Command) -> Result:
    """Run the handler and store what it produced; the innermost layer.

    A policy-only command dispatched outside a policy's delivery (no
    current cause) is refused here, for every interface at once, and
    recorded like any refusal. A top-level handler's refusal is raised as
    ``_RollBack`` for ``in_transaction`` to roll back and record; inside a
    delivery the handler runs in a savepoint and its refusal is recorded
    here, unless the delivery runs without savepoints: a refusal then
    raises ``NeedsSavepoints`` and the delivery runs again with them."""
    started = time.perf_counter()
    handler = registry.handler_for(command)
    top_level = current_cause.get() is None
    if command.policy_only and top_level:
        return record(command, [CommandRejected.policy_only(command)], started)
    refused = _refused_before.get()
    if refused is not None:
        return record(command, [refused.rejection], refused.started)
    if top_level or not delivery.with_savepoints():  # no savepoint: a refusal undoes the whole transaction
        try:
            events = list(handler(command) or ())
        except Refused as refusal:
            if top_level:
                raise _RollBack(refusal.rejection, started) from None
            raise delivery.NeedsSavepoints(command.type_name()) from None
        return record(command, events, started)
    try:
        with transaction.atomic():  # a refusal leaves nothing the handler wrote
            events = list(handler(command) or ())
    except Refused as refusal:
        events = [refusal.rejection]
    return record(command, events, started)


class _RollBack(Exception):
    """A top-level handler refused: its transaction rolls back whole (the
    handler's writes with it) and ``in_transaction`` records the refusal,
    timed from when its first pass started."""

    def __init__(self, rejection: Rejection, started: float):
        super().__init__(rejection.code)
        self.rejection, self.started = rejection, started


_refused_before: ContextVar[_RollBack | None] = ContextVar("refused_before", default=None)
"""The refusal a top-level command's rolled-back first pass met: its second
pass records it instead of running the handler again."""


def record(command: Command, events: list[Event], started: float | None = None) -> Result:
    """Append ``events`` for ``command`` and schedule their deliveries on commit:
    run here (``MESSAGING_DELIVER_ON_COMMIT``), and what that leaves (all of
    them when it is off) handed to the queue of background workers when one
    is configured (``MESSAGING_HAND_OFF``); otherwise the relay finds them.

    A rejection among them gets the command's ids as its subject here, so
    every refusal (a handler's, the bus's own) keeps what it was about.

    The time since ``started`` (``time.perf_counter``) is the command's
    duration, stored on its events' rows in the INSERT that writes them: the
    handler and the store's work up to that INSERT, its commit not included."""
    events = [event.about(command) if isinstance(event, Rejection) else event for event in events]
    duration_ms = None if started is None else (time.perf_counter() - started) * 1000
    stamped, opened = store.append(command, events, duration_ms)
    hand_off = _hand_off()
    if opened and settings.MESSAGING_DELIVER_ON_COMMIT:
        transaction.on_commit(partial(deliver_opened, opened, hand_off=hand_off), robust=True)
    elif opened and hand_off is not None:
        transaction.on_commit(partial(hand_off, opened), robust=True)
    return Result(command, stamped)


def _hand_off() -> delivery.HandOff | None:
    """The one seam to a queue: the function named by ``MESSAGING_HAND_OFF``
    (``messaging.tasks.enqueue`` when a Celery broker is configured)."""
    name = settings.MESSAGING_HAND_OFF
    return import_string(name) if name else None


def deliver(delivery_id: int) -> str | None:
    """Attempt one delivery, dispatching the policy's commands on this bus
    (what the relay does for each row it claimed; tests call it directly)."""
    return delivery.deliver(delivery_id, dispatch=dispatch)


def deliver_all(delivery_ids) -> Counter:
    """Attempt several deliveries; one failing never stops the others."""
    return delivery.deliver_all(delivery_ids, dispatch=dispatch)


def deliver_claimed(claim: claiming.Claim) -> Counter:
    """Attempt the deliveries a relay round claimed, those it still owns,
    many per transaction."""
    return delivery.deliver_batches(claim.ids, dispatch=dispatch, lease=claim.lease)


def deliver_opened(opened: list[store.Opened], hand_off: delivery.HandOff | None = None) -> Counter:
    """Attempt the deliveries a commit just opened (what ``record`` schedules),
    handing what it leaves to ``hand_off``."""
    return delivery.deliver_opened(opened, dispatch=dispatch, hand_off=hand_off)


def in_transaction(command: Command, call_next: Next) -> Result:
    """Open the command's transaction: durable at the top. Inside a delivery
    the command joins the delivery's transaction, so the policy's effects and
    its delivery record commit together; the delivery's savepoint around the
    policy already undoes them on failure, so no savepoint of its own.

    At the top level a refusal rolls the first transaction back whole; a
    second one records it (the idempotency key included) without running
    the handler again."""
    if current_cause.get() is not None:
        with transaction.atomic(savepoint=False):
            return call_next(command)
    try:
        with transaction.atomic(durable=True):
            return call_next(command)
    except _RollBack as refused:
        with transaction.atomic(durable=True):
            token = _refused_before.set(refused)
            try:
                return call_next(command)
            finally:
                _refused_before.reset(token)  # before the commit runs any delivery


def deduplicate(command: Command, call_next: Next) -> Result:
    """Give a command sent again with the same idempotency key its first
    result back, without running it twice; refuse the key's reuse for a
    different command. Runs inside the transaction, so the key is stored
    exactly when the effects are."""
    if command.idempotency_key is None:
        return call_next(command)
    started = time.perf_counter()
    previous = idempotency.previous(command)
    if previous is None:
        result = call_next(command)
        idempotency.remember(command, result.events)
        return result
    if idempotency.matches(previous, command):
        return Result(command, store.load_many(previous.event_ids), replayed=True)
    return record(command, [IdempotencyKeyReused.now()], started)


def _with_metadata(command: Command) -> Command:
    cause = current_cause.get()
    if cause is not None:
        return dataclasses.replace(command, correlation_id=cause.correlation_id, causation_id=cause.event_id)
    if command.correlation_id is None:
        return dataclasses.replace(command, correlation_id=command.command_id)
    return command


MIDDLEWARE = [
    telemetry.trace_dispatch,
    middleware.log_dispatch,
    middleware.time_dispatch,
    middleware.retry_on_conflict,
    in_transaction,
    deduplicate,
]
