"""Running policies for committed events, with retries and dead letters.

A policy of the database runs exactly once per event: the delivery row is
locked, the policy runs and the commands it returns are dispatched, and the
row is marked done, all in one transaction. If the policy raises, its
effects roll back to a savepoint and the row records the failure with the
next attempt time; after ``MESSAGING_MAX_ATTEMPTS`` attempts it is
dead-lettered.

A policy with an effect outside the database (``outside``: a mail) never
runs inside a transaction, where it would hold the write lock for as long
as the other side takes. Its row is leased in one short transaction, the
effect runs with no transaction open, and the row is marked done in
another: at least once, since a crash between the effect and the mark
repeats it. ``Permanent`` failures (a refused address) dead-letter at once;
an effect that had nothing to do returns ``Skipped`` and its row is settled
as skipped, with the reason.

Three ways in. The relay claims due rows in batches (``claiming.claim_due``:
``SKIP LOCKED`` and a lease with an owner, so concurrent relays never take
the same ones) and delivers what its claim owns (``deliver_batches``: many
rows per transaction, with no savepoint while they all succeed, and one
around each when one fails or refuses): a row whose lease another worker
has taken over since is left alone. Right after
a commit (``deliver_opened``) the event is still in memory, and one
conditional UPDATE claims the row and marks it done at once: it matches
only an open, due row, and holds the row's lock until the transaction ends,
so a relay skips it; a failure overwrites it. That path delivers at most
``MESSAGING_DELIVER_ON_COMMIT_LIMIT`` rows per commit, cascades included,
and never an outside effect: the request that committed answers after a
bounded amount of work and the relay takes the rest. Anyone else (an
operator's retry, a test) calls ``deliver`` on a row that is due.

With a queue of background workers (Celery, ``messaging.tasks``), what a
commit leaves is leased (``claim_opened``) and queued, a batch of ids a
message; the worker takes the rows over (``claim_queued``: ``SKIP
LOCKED``, a fresh lease) and delivers what it owns as the relay does. Leases and due times are compared on the
database's clock (``Now()``), the one clock every machine shares.
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from uuid import UUID, uuid4

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from . import store, telemetry
from .context import Cause, caused_by, correlated
from .messages import Command, Event
from .middleware import is_conflict
from .models import Delivery
from .registry import registry

logger = logging.getLogger(__name__)

Dispatch = Callable[[Command], object]
HandOff = Callable[[list["store.Opened"]], None]
_OUTSIDE = object()  # no open database delivery matched: maybe an outside effect
# A delivery the database aborted for a deadlock or a serialization failure
# runs again at once, uncounted, this many times before the conflict is
# recorded as a failed attempt like any other error.
CONFLICT_RETRIES = 3


class _Conflict(Exception):
    """Rolls a delivery's whole transaction back so that it runs again."""


class NeedsSavepoints(BaseException):  # noqa: N818 (a signal, not an error)
    """A policy's command refused while its delivery ran without savepoints:
    only a savepoint could have undone that handler's writes alone, so the
    delivery's whole transaction rolls back and runs again with them.

    A ``BaseException``, like ``GeneratorExit``: it passes through every
    ``except Exception`` on its way (the bus's log layer would report it as
    a failure) to the delivery that set the mode, which alone handles it."""


_with_savepoints: ContextVar[bool] = ContextVar("with_savepoints", default=True)


def with_savepoints() -> bool:
    """Whether a policy's command runs its handler in a savepoint (so that a
    refusal undoes that handler alone) or, in a delivery run optimistically
    without them, raises ``NeedsSavepoints`` when it refuses."""
    return _with_savepoints.get()


@contextmanager
def _savepoints(wanted: bool) -> Iterator[None]:
    token = _with_savepoints.set(wanted)
    try:
        yield
    finally:
        _with_savepoints.reset(token)


class Permanent(Exception):
    """Raised by an outside effect when trying again cannot help (the mail
    server refused the address): the delivery is dead-lettered at once."""


@dataclass(frozen=True)
class Skipped:
    """Returned by an outside effect that had nothing to do (a mail to a
    person forgotten since it was queued): its delivery is settled as
    ``SKIPPED`` with ``reason``, neither done nor failed. The reason names
    people by id only: it is stored and logged."""

    reason: str


def deliver(delivery_id: int, *, dispatch: Dispatch, lease: UUID | None = None) -> str | None:
    """Attempt one delivery; return its new status, or ``None`` if it was not
    this caller's to deliver: no longer open (done or dead, perhaps by
    another worker just now), leased by someone else, or not yet due.

    With ``lease``, the row must still belong to that claim (checked under
    the row lock); without, it must be due by the database's clock (a
    retry's backoff is never skipped). The row lock waits rather than
    skips: the lock a worker may meet on a row it leased is brief (another
    worker's claim touching the row, or the on-commit path finishing it).

    A deadlock or serialization failure (in the policy's commands or in the
    delivery's own statements) rolls the whole transaction back and runs it
    again at once without counting an attempt: it says nothing about the
    policy, and a new attempt resolves it."""
    owned = Q(lease=lease) if lease is not None else Q(next_attempt_at__lte=Now())
    retries = 0
    while True:
        try:
            status = _deliver_in_database(delivery_id, owned, dispatch, conflicts_retry=retries < CONFLICT_RETRIES)
            break
        except (_Conflict, DatabaseError) as error:
            if retries == CONFLICT_RETRIES or not (isinstance(error, _Conflict) or is_conflict(error)):
                raise
            retries += 1
            logger.info("delivery %s conflicted (%s), running it again", delivery_id, error.__cause__ or error)
            time.sleep(random.uniform(0, 0.01 * 2**retries))
    return _deliver_outside(delivery_id, owned) if status is _OUTSIDE else status


def _deliver_in_database(delivery_id: int, owned: Q, dispatch: Dispatch, *, conflicts_retry: bool):
    """The database path of ``deliver``: its status, ``None``, or ``_OUTSIDE``
    when no open database delivery matched (the outside path looks next)."""
    with transaction.atomic(durable=True):
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(owned, pk=delivery_id, status__in=Delivery.OPEN, outside=False)
            .first()
        )
        if delivery is None:
            return _OUTSIDE
        delivery.attempts += 1
        delivery.lease = None
        row = delivery.event
        with (
            correlated(row.correlation_id),
            telemetry.delivering(delivery_id, row.type, delivery.policy, row.correlation_id, row.event_id) as span,
        ):
            started = time.perf_counter()
            try:
                event = store.load(delivery.event)
            except Exception as unreadable:  # e.g. no upcaster for its version: retried, then dead-lettered
                error = unreadable
            else:
                error = _run(event, delivery.policy, dispatch)
            delivery.duration_ms = _since(started)
            if error is not None and conflicts_retry and is_conflict(error):
                raise _Conflict(delivery_id) from error
            if error is None:
                delivery.status = Delivery.Status.DONE
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            else:
                _record_failure(delivery, delivery.event.type, error)
            fields = ["status", "attempts", "delivered_at", "last_error", "next_attempt_at", "lease", "duration_ms"]
            delivery.save(update_fields=fields)
            span.outcome(delivery.status, error)
        return delivery.status


def _deliver_outside(delivery_id: int, owned: Q) -> str | None:
    """Lease, run outside any transaction, then mark: at least once."""
    lease = uuid4()
    until = Now() + timedelta(seconds=settings.MESSAGING_OUTSIDE_LEASE_SECONDS)
    with transaction.atomic(durable=True):
        taken = Delivery.objects.filter(owned, pk=delivery_id, status__in=Delivery.OPEN).update(
            lease=lease, next_attempt_at=until, attempts=F("attempts") + 1
        )
    if not taken:
        return None
    delivery = Delivery.objects.select_related("event").get(pk=delivery_id)
    row, error = delivery.event, None
    with (
        correlated(row.correlation_id),
        telemetry.delivering(delivery_id, row.type, delivery.policy, row.correlation_id, row.event_id) as span,
    ):
        started = time.perf_counter()
        try:
            policy = registry.policies[delivery.policy]
            event = store.load(delivery.event)
            outcome = policy(event)
            if outcome and not isinstance(outcome, Skipped):
                raise TypeError(f"{policy.name} has an outside effect: it may not issue commands")
        except Exception as failure:
            error = failure
            _record_failure(delivery, delivery.event.type, error)
        else:
            if isinstance(outcome, Skipped):  # settled, dated like a done one, with why in place of an error
                delivery.status, delivery.last_error = Delivery.Status.SKIPPED, outcome.reason
                logger.info("skipped %s to %s: %s", delivery.event.type, delivery.policy, outcome.reason)
            else:
                delivery.status, delivery.last_error = Delivery.Status.DONE, ""
                logger.debug("delivered %s to %s", delivery.event.type, delivery.policy)
            delivery.delivered_at = timezone.now()
        delivery.duration_ms = _since(started)
        with transaction.atomic(durable=True):
            marked = Delivery.objects.filter(pk=delivery_id, lease=lease, status__in=Delivery.OPEN).update(
                status=delivery.status,
                delivered_at=delivery.delivered_at,
                last_error=delivery.last_error,
                next_attempt_at=delivery.next_attempt_at,
                lease=None,
                duration_ms=delivery.duration_ms,
            )
        span.outcome(delivery.status if marked else None, error)
        if not marked:
            logger.warning(
                "delivery %s to %s outlived its lease: another worker may repeat it (MESSAGING_OUTSIDE_LEASE_SECONDS)",
                delivery.event.type,
                delivery.policy,
            )
            return None
    return delivery.status


_on_commit_budget: ContextVar[list[int] | None] = ContextVar("on_commit_budget", default=None)


@contextmanager
def _budget() -> Iterator[list[int]]:
    """The deliveries the on-commit path may still attempt, shared by the
    cascade one top-level commit sets off (nested commits run their
    callbacks inside the outer ones, in this same context)."""
    budget = _on_commit_budget.get()
    if budget is not None:
        yield budget
        return
    budget = [settings.MESSAGING_DELIVER_ON_COMMIT_LIMIT]
    token = _on_commit_budget.set(budget)
    try:
        yield budget
    finally:
        _on_commit_budget.reset(token)


def deliver_opened(opened: Iterable["store.Opened"], *, dispatch: Dispatch, hand_off: HandOff | None = None) -> Counter:
    """Attempt deliveries just opened, with their events in hand; one failing
    never stops the others. Outside effects,
    and whatever exceeds the commit's budget, are left pending for the relay,
    and given to ``hand_off`` when there is one (a queue of background
    workers). A failure is not handed off: it waits for its retry time and
    the sweep."""
    outcomes, left = Counter(), []
    with _budget() as budget:
        for delivery in opened:
            if delivery.outside or budget[0] <= 0:
                outcomes["left to the relay"] += 1
                left.append(delivery)
                continue
            budget[0] -= 1
            outcomes[_deliver_opened(delivery, dispatch) or "skipped"] += 1
    if left and hand_off is not None:
        hand_off(left)
    return outcomes


class _TakenMeanwhile(Exception):
    """Rolls back a policy run right after a commit whose row someone else
    (a relay) took or settled while it ran."""


def _deliver_opened(opened: "store.Opened", dispatch: Dispatch) -> str | None:
    """Run the policy and claim the row as done, with how long the run took,
    in one transaction with no savepoint. The claim comes last, so it is one
    statement (the duration known by then): it matches only a row still
    open and due, and when a relay took the row meanwhile the run rolls back
    (the relay delivers it, or did). A failure rolls it back whole, and a
    second transaction claims the row to record the failure. A policy whose
    command refuses runs again with savepoints (``NeedsSavepoints``), so the
    refusal is recorded and the delivery done."""
    event = opened.event
    with (
        correlated(event.correlation_id),
        telemetry.delivering(
            opened.delivery_id, event.type_name(), opened.policy, event.correlation_id, event.event_id
        ) as span,
    ):
        started = time.perf_counter()
        for savepoints in (False, True):
            try:
                with transaction.atomic(durable=True), _savepoints(savepoints):
                    _apply(event, opened.policy, dispatch)
                    if not _claim_as_done(opened.delivery_id, _since(started)):
                        raise _TakenMeanwhile
                span.outcome(Delivery.Status.DONE)
                return Delivery.Status.DONE
            except NeedsSavepoints:
                continue
            except _TakenMeanwhile:
                return None
            except Exception as error:
                failure, duration_ms = error, _since(started)
                break
        with transaction.atomic(durable=True):
            if not _claim_as_done(opened.delivery_id, duration_ms):
                return None  # taken by someone else since the roll-back
            delivery = Delivery.objects.get(pk=opened.delivery_id)  # attempts counts this one already
            _record_failure(delivery, event.type_name(), failure)
            delivery.delivered_at, delivery.duration_ms = None, duration_ms
            delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at", "duration_ms"])
        span.outcome(delivery.status, failure)
        return delivery.status


def _claim_as_done(delivery_id: int, duration_ms: float) -> bool:
    """Mark the row done, with its duration, if it is still open and due;
    whether it was."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_as_done_sql(connection.vendor),
            [Delivery.Status.DONE.value, now, duration_ms, delivery_id, *_OPEN, now],
        )
        return cursor.rowcount == 1


def _since(started: float) -> float:
    """Milliseconds since ``started`` (``time.perf_counter``)."""
    return (time.perf_counter() - started) * 1000


@cache
def _claim_as_done_sql(vendor: str) -> str:
    """The on-commit claim's UPDATE, built once per backend."""
    return (
        f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
        "SET status = %s, attempts = attempts + 1, delivered_at = %s, duration_ms = %s, last_error = '' "
        "WHERE id = %s AND status IN (%s, %s) AND next_attempt_at <= %s"
    )


_OPEN = [status.value for status in Delivery.OPEN]


def _run(event: Event, policy_name: str, dispatch: Dispatch) -> Exception | None:
    """Run the policy and dispatch its commands in a savepoint; the error, if
    it raised (its effects undone)."""
    try:
        with transaction.atomic():
            _apply(event, policy_name, dispatch)
    except Exception as error:
        return error
    return None


def _apply(event: Event, policy_name: str, dispatch: Dispatch) -> None:
    """Run the policy and dispatch its commands, as consequences of ``event``."""
    policy = registry.policies[policy_name]
    with caused_by(Cause(event.correlation_id, event.event_id, policy.name)):
        for command in policy(event) or ():
            dispatch(command)
    logger.debug("delivered %s to %s", event.type_name(), policy_name)


def _record_failure(delivery: Delivery, event_type: str, error: Exception) -> None:
    """Mark the attempt (already counted) failed, or dead after the last one
    or a permanent failure."""
    delivery.last_error = f"{type(error).__name__}: {error}"
    delivery.status = _status_after(delivery.attempts, error)
    if delivery.status == Delivery.Status.DEAD:
        logger.error(
            "dead-lettered %s to %s after %d attempt(s): %s",
            event_type,
            delivery.policy,
            delivery.attempts,
            delivery.last_error,
        )
    else:
        backoff = settings.MESSAGING_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
        logger.warning(
            "delivery of %s to %s failed (attempt %d, retry in %.0fs): %s",
            event_type,
            delivery.policy,
            delivery.attempts,
            backoff,
            delivery.last_error,
        )


def _status_after(attempts: int, error: Exception) -> str:
    """A delivery's status after its ``attempts``-th attempt failed with ``error``."""
    if attempts >= settings.MESSAGING_MAX_ATTEMPTS or isinstance(error, Permanent):
        return Delivery.Status.DEAD
    return Delivery.Status.FAILED


def deliver_all(delivery_ids: Iterable[int], *, dispatch: Dispatch, lease: UUID | None = None) -> Counter:
    """Attempt each delivery in turn; one failing never stops the others."""
    outcomes = Counter()
    for delivery_id in delivery_ids:
        outcomes[deliver(delivery_id, dispatch=dispatch, lease=lease) or "skipped"] += 1
    return outcomes


class _OverBudget(Exception):
    """Undoes the delivery that would take its batch's transaction past the
    bound on rows written: it starts the next transaction instead."""


class _Unbatchable(Exception):
    """Rolls a whole batch back so that its rows are delivered one by one."""


def deliver_batches(delivery_ids: list[int], *, dispatch: Dispatch, lease: UUID) -> Counter:
    """Attempt the deliveries a relay claim owns, many per transaction.

    The rows are taken ``MESSAGING_RELAY_BATCH`` at a time: one query locks
    the batch's rows still owned by ``lease`` and reads their events, the
    shared rows they will write are locked in one global order (the
    policies' ``locks``), and the deliveries run one after the other with
    no savepoint, the events their commands append written together in one
    INSERT at the end (``store.appends_held``). One that fails or whose command refuses rolls the batch
    back, which runs again knowing it (``_deliver_batch``): the failure is
    recorded on its own row without running it again, the refusal runs in a
    savepoint that undoes only that command's writes. The rows are marked
    in bulk, and everything commits together: exactly once per row, as one
    by one. A row whose lease was taken over
    is left alone; outside effects (mail) keep their own path, outside any
    transaction, after the batch commits.

    A transaction stops taking deliveries before it writes more than
    ``FANOUT_BATCH_SIZE`` rows (the bound every transaction keeps): the
    delivery that would cross it starts the next one (the batch, rolled
    back, runs again without it). A
    deadlock or serialization failure rolls the whole batch back and its
    rows are delivered one by one (``deliver``: retried, uncounted)."""
    outcomes, left, outside = Counter(), list(delivery_ids), []
    sizes: dict[str, int] = {}  # the most rows one delivery of each policy wrote, in this claim
    while left:
        batch = left[: settings.MESSAGING_RELAY_BATCH]
        try:
            delivered, unreached, found_outside = _deliver_batch(batch, lease, dispatch, sizes)
        except (_Unbatchable, DatabaseError) as error:
            if not (isinstance(error, _Unbatchable) or is_conflict(error)):
                raise
            logger.info("a batch of %d deliveries conflicted (%s): delivering them one by one", len(batch), error)
            outcomes += deliver_all(batch, dispatch=dispatch, lease=lease)
            left = left[len(batch) :]
            continue
        outcomes += delivered
        outside += found_outside
        left = unreached + left[len(batch) :]
    return outcomes + deliver_all(outside, dispatch=dispatch, lease=lease)


@dataclass  # not frozen: raising sets an exception's attributes
class _Lesson(Exception):
    """What a batch run without savepoints learned about one of its
    deliveries that did not succeed; the batch rolls back and runs again
    knowing it. A failure (``error``) is recorded without running the policy
    again (one run per attempt, as with a savepoint); a refusal of its
    command (``refused``) runs it with savepoints, which record the refusal;
    a delivery that took the batch past the bound on rows (``crossed``)
    starts the next transaction instead."""

    delivery_id: int
    error: Exception | None = None
    duration_ms: float | None = None
    refused: bool = False
    crossed: bool = False


def _deliver_batch(
    batch: list[int], lease: UUID, dispatch: Dispatch, sizes: dict[str, int]
) -> tuple[Counter, list[int], list[int]]:
    """Run a batch's deliveries without savepoints (four statements fewer per
    delivery: its own savepoint and its command's, each a SAVEPOINT and a
    RELEASE), which serves while every one of them succeeds. When one does
    not, the batch rolls back whole and runs again knowing what it learned
    (``_Lesson``): at most one more run per delivery that did not succeed."""
    learned: dict[int, _Lesson] = {}
    while True:
        try:
            return _deliver_together(batch, lease, dispatch, learned, sizes)
        except _Lesson as lesson:
            logger.debug("a batch of %d deliveries runs again: %r", len(batch), lesson)
            learned[lesson.delivery_id] = lesson


def _deliver_together(
    batch: list[int], lease: UUID, dispatch: Dispatch, learned: dict[int, "_Lesson"], sizes: dict[str, int]
) -> tuple[Counter, list[int], list[int]]:
    """One batch's transaction: what it delivered, the ids it did not reach
    (the bound on rows), and the outside effects it found. A delivery not
    ``learned`` about runs without a savepoint and raises ``_Lesson`` if it
    does not succeed. A delivery is expected to write as many rows as the
    most one of its policy wrote before in this claim (``sizes``), or as the
    largest of this batch so far: when that would not fit, it starts the
    next transaction."""
    outcomes, done, failed = Counter(), [], []
    written = _RowsWritten()
    with transaction.atomic(durable=True), connection.execute_wrapper(written), store.appends_held() as held:
        rows = list(
            Delivery.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk__in=batch, lease=lease, status__in=Delivery.OPEN)
            .order_by("pk")
        )
        outcomes["skipped"] = len(batch) - len(rows)  # taken over by another worker, or settled already
        outside = [row.pk for row in rows if row.outside]
        loaded = [(row, _load(row)) for row in rows if not row.outside]
        _lock_shared_rows(loaded)
        unreached, largest = [], 0

        def writes() -> int:  # rows written so far, the held events and the marks to come included
            return written.rows + len(held.rows) + len(done) + len(failed)

        def crossed() -> bool:  # whether the delivery running now takes the transaction past the bound
            return bool(done or failed) and writes() + 1 > settings.FANOUT_BATCH_SIZE

        for index, (row, event) in enumerate(loaded):
            before = writes()
            lesson = learned.get(row.pk)
            expected = max(sizes.get(row.policy, 0), largest)
            if (index and before + expected + 1 > settings.FANOUT_BATCH_SIZE) or (lesson and lesson.crossed):
                unreached = [later.pk for later, _ in loaded[index:]]  # the next transaction's
                break
            try:
                if isinstance(event, Exception):
                    error = event
                    _fail(row, error)
                elif lesson is None:
                    error = _attempt_optimistically(row, event, dispatch, crossed)
                elif lesson.refused:
                    error = _attempt(row, event, dispatch, crossed)
                else:
                    error, row.duration_ms = lesson.error, lesson.duration_ms
                    _fail(row, error)
            except _OverBudget:
                unreached = [later.pk for later, _ in loaded[index:]]
                break
            if error is not None and is_conflict(error):
                raise _Unbatchable(row.pk) from error
            largest = max(largest, writes() - before)
            sizes[row.policy] = max(sizes.get(row.policy, 0), writes() - before)
            (done if error is None else failed).append(row)
        held.flush()
        _mark(done, failed)
    outcomes[Delivery.Status.DONE] += len(done)
    outcomes.update(row.status for row in failed)
    return +outcomes, unreached, outside


def _load(row: Delivery) -> Event | Exception:
    """The row's event, or why it cannot be read (e.g. no upcaster for its
    version: a failure of that row alone, retried, then dead-lettered)."""
    try:
        return store.load(row.event)
    except Exception as unreadable:
        return unreadable


def _attempt(row: Delivery, event: Event, dispatch: Dispatch, crossed: Callable[[], bool]) -> Exception | None:
    """Run one delivery of a batch in its own savepoint (``_run`` without a
    second one around it: a savepoint is a round trip, and each that writes
    holds one of PostgreSQL's subtransactions until the batch commits); the
    error, if it raised (its effects undone). Raises ``_OverBudget``, its
    effects undone too, when ``crossed`` says it wrote past the bound. The
    row keeps how long the run took, and the span its outcome."""
    with _running(row) as span:
        started = time.perf_counter()
        try:
            with store.appends_now(), transaction.atomic():  # its savepoint may roll back alone
                _apply(event, row.policy, dispatch)
                if crossed():
                    raise _OverBudget
        except _OverBudget:
            raise
        except Exception as error:
            row.duration_ms = _since(started)
            if not is_conflict(error):  # a conflict undoes the whole batch: nothing to record
                _fail(row, error)
                span.outcome(row.status, error)
            return error
        row.duration_ms = _since(started)
        span.outcome(Delivery.Status.DONE)
    return None


def _attempt_optimistically(row: Delivery, event: Event, dispatch: Dispatch, crossed: Callable[[], bool]) -> None:
    """Run one delivery of a batch with no savepoint (nor one for its
    commands): done, or a ``_Lesson`` for the batch to run again with (a
    conflict stays a conflict: the batch's rows then go one by one)."""
    with _running(row) as span:
        started = time.perf_counter()
        try:
            with _savepoints(False):
                _apply(event, row.policy, dispatch)
        except NeedsSavepoints:
            raise _Lesson(row.pk, refused=True) from None
        except Exception as error:
            if is_conflict(error):
                raise _Unbatchable(row.pk) from error
            span.outcome(_status_after(row.attempts + 1, error), error)
            raise _Lesson(row.pk, error=error, duration_ms=_since(started)) from error
        if crossed():
            raise _Lesson(row.pk, crossed=True)
        row.duration_ms = _since(started)
        span.outcome(Delivery.Status.DONE)
    return None


@contextmanager
def _running(row: Delivery):
    """What a batch's delivery runs in: its event's correlation id, and its span."""
    stored = row.event
    with (
        correlated(stored.correlation_id),
        telemetry.delivering(row.pk, stored.type, row.policy, stored.correlation_id, stored.event_id) as span,
    ):
        yield span


def _fail(row: Delivery, error: Exception) -> None:
    """Count a batch's failed attempt on its row and record the failure."""
    row.attempts += 1
    row.lease = None
    _record_failure(row, row.event.type, error)


def _lock_shared_rows(loaded: list[tuple[Delivery, Event | Exception]]) -> None:
    """Call each ``locks`` function the batch's policies declare once, with
    all its events, in the order of the functions' names: every worker then
    takes the shared rows in the same order (the functions lock theirs in
    key order). A database without row locks (SQLite) needs none."""
    if not connection.features.has_select_for_update:
        return
    by_locker = {}
    for row, event in loaded:
        policy = registry.policies.get(row.policy)
        if policy is not None and policy.locks is not None and not isinstance(event, Exception):
            by_locker.setdefault(policy.locks, []).append(event)
    for locks in sorted(by_locker, key=lambda locks: f"{locks.__module__}.{locks.__qualname__}"):
        try:
            locks(by_locker[locks])
        except Exception as error:
            raise _Unbatchable(f"{locks.__qualname__} failed") from error


def _mark(done: list[Delivery], failed: list[Delivery]) -> None:
    """Mark a batch's rows: the done ones in one hand-written UPDATE (they
    share all but their durations; ``bulk_update`` compiled a ``CASE`` per
    column per row, a third of a batch's time) and the failed ones, each
    with its own error and retry time, in one ``bulk_update``."""
    if done:
        delivered_at = timezone.now()
        for row in done:
            row.status, row.attempts, row.delivered_at, row.last_error, row.lease = (
                Delivery.Status.DONE,
                row.attempts + 1,
                delivered_at,
                "",
                None,
            )
        durations = [value for row in done for value in (row.pk, row.duration_ms)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
                "SET status = %s, attempts = attempts + 1, delivered_at = %s, last_error = '', lease = NULL, "
                f"duration_ms = CASE id {' '.join(['WHEN %s THEN %s'] * len(done))} END "
                f"WHERE id IN ({', '.join(['%s'] * len(done))})",
                [
                    Delivery.Status.DONE.value,
                    connection.ops.adapt_datetimefield_value(delivered_at),
                    *durations,
                    *(row.pk for row in done),
                ],
            )
    if failed:
        fields = ["status", "attempts", "last_error", "next_attempt_at", "lease", "duration_ms"]
        Delivery.objects.bulk_update(failed, fields)


class _RowsWritten:
    """Counts the rows the statements of one transaction write (an
    ``execute_wrapper``), so a batch keeps the bound on rows per transaction."""

    def __init__(self):
        self.rows = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        verb = "INSERT" if sql.startswith(store.WRITTEN_FIRST) else sql.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            counted = max(context["cursor"].rowcount, 0)
            if verb == "INSERT":  # SQLite counts an INSERT ... RETURNING only once its rows are read, and
                # PostgreSQL an event store's INSERT with its events written first the main one's only
                counted = max(counted, sql.count("), (") + sql.count(" VALUES ("))
            self.rows += counted
        return result
