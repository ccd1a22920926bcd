"""The command bus: the only way state changes.

``dispatch(command)`` runs the command through ``MIDDLEWARE`` (trace, log,
time, retry on conflict, transaction, idempotency) to ``handle``: the one
handler, its events or its rejection appended in the same transaction, the
deliveries run once that commits. A top-level dispatch is durable, so none
is wrapped in a larger one; what a refusal leaves is ``refusal_rule``'s.
See docs/architecture.md, "The pipeline".
"""

import dataclasses
import time
from collections import Counter
from contextvars import ContextVar
from functools import partial

from django.db import transaction
from django.utils.module_loading import import_string

from . import idempotency, middleware, refusal_rule, store, telemetry
from .ambient import current_cause
from .conf import conf
from .delivery import on_commit
from .messages import Command, CommandRejected, Event, IdempotencyKeyReused, Next, Rejection, Result
from .refusal_rule import RolledBack, Undo
from .registry import registry


def dispatch(command: Command, *, undo: Undo | None = None) -> Result:
    """Run ``command`` through the middleware chain and its handler. A
    refusal is undone as ``undo`` says (``refusal_rule``): by default its
    transaction for a command from an interface, a savepoint for a policy's."""
    command = _with_metadata(command)
    if undo is None:
        undo = Undo.TRANSACTION if current_cause.get() is None else Undo.SAVEPOINT
    call = partial(handle, undo=undo)
    for layer in reversed(MIDDLEWARE):
        call = partial(layer, call_next=call)
    return call(command)


def handle(command: Command, *, undo: Undo = Undo.TRANSACTION) -> Result:
    """Run the handler and store what it produced; the innermost layer.

    A policy-only command dispatched outside a policy's delivery (no
    current cause) is refused here, for every interface at once, and
    recorded like any refusal. The second pass of a top-level command whose
    handler refused records that refusal without running the handler again."""
    started = time.perf_counter()
    if command.policy_only and current_cause.get() is None:
        return record(command, [CommandRejected.policy_only(command)], started)
    refused = _refused_before.get()
    if refused is not None:
        return record(command, [refused.rejection], refused.started)
    events = refusal_rule.run(registry.handler_for(command), command, undo, started)
    return record(command, events, started)


_refused_before: ContextVar[RolledBack | None] = ContextVar("refused_before", default=None)
"""The refusal a top-level command's rolled-back first pass met, for its
second pass (``in_transaction``) to record: a memo of the bus's own two
passes, set and read within one dispatch."""


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
    if opened and conf.MESSAGING_DELIVER_ON_COMMIT:
        transaction.on_commit(partial(deliver_opened, opened, hand_off=hand_off), robust=True)
    elif opened and hand_off is not None:
        transaction.on_commit(partial(hand_off, opened), robust=True)
    return Result(command, stamped)


def _hand_off() -> on_commit.HandOff | None:
    """The one seam to a queue: the function named by ``MESSAGING_HAND_OFF``
    (``messaging.tasks.enqueue`` when a Celery broker is configured)."""
    name = conf.MESSAGING_HAND_OFF
    return import_string(name) if name else None


def deliver_opened(opened: list[store.Opened], hand_off: on_commit.HandOff | None = None) -> Counter:
    """Attempt the deliveries a commit just opened (what ``record`` schedules),
    handing what it leaves to ``hand_off``."""
    return on_commit.deliver_opened(opened, dispatch=dispatch, hand_off=hand_off)


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
    except RolledBack as refused:
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
