"""Delivering what a relay claim owns (or a queued message), many rows per
transaction (``deliver_batches``).

A batch's deliveries run one after the other with no savepoint; one that
fails or refuses rolls the batch back, which runs again knowing it
(``_Lesson``), so each row takes effect exactly once, as one by one. A
transaction stops before it writes more than ``FANOUT_BATCH_SIZE`` rows
(``RowBudget``). See docs/architecture.md, "The pipeline", step 6.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from django.db import DatabaseError, connection, transaction

from .. import sql, store
from ..conf import conf
from ..messages import Event
from ..middleware import is_conflict
from ..models import Delivery
from ..refusal_rule import RunWithSavepoints, Undo
from ..registry import registry
from .ledger import Dispatch, apply, record_failure, running, since, status_after
from .single import deliver_all

logger = logging.getLogger("messaging.delivery")


class _OverBudget(Exception):
    """Undoes the delivery that would take its batch's transaction past the
    bound on rows written: it starts the next transaction instead."""


class _Unbatchable(Exception):
    """Rolls a whole batch back so that its rows are delivered one by one."""


def deliver_batches(delivery_ids: list[int], *, dispatch: Dispatch, lease: UUID) -> Counter:
    """Attempt the deliveries a claim owns, many per transaction (see the module)."""
    outcomes, left, outside = Counter(), list(delivery_ids), []
    sizes: dict[str, int] = {}  # the most rows one delivery of each policy wrote, in this claim
    while left:
        batch = left[: conf.MESSAGING_RELAY_BATCH]
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


class RowBudget:
    """The rows one batch's transaction has written, as the database counts
    them (``sql.RowsWritten``), with the events held for its last INSERT and
    the marks still to come; whether a delivery crosses the bound."""

    def __init__(self, written: "sql.RowsWritten", held: "store._Held"):
        self.written, self.held, self.done, self.failed = written, held, [], []

    def rows(self) -> int:
        return self.written.rows() + len(self.held.rows) + len(self.done) + len(self.failed)

    def crossed(self) -> bool:
        """Whether the delivery running now takes the transaction past the bound."""
        return bool(self.done or self.failed) and self.rows() + 1 > conf.MESSAGING_FANOUT_BATCH_SIZE


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
    outcomes = Counter()
    with transaction.atomic(durable=True), sql.RowsWritten() as written, store.appends_held() as held:
        budget = RowBudget(written, held)
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
        for index, (row, event) in enumerate(loaded):
            before = budget.rows()
            lesson = learned.get(row.pk)
            expected = max(sizes.get(row.policy, 0), largest)
            if (index and before + expected + 1 > conf.MESSAGING_FANOUT_BATCH_SIZE) or (lesson and lesson.crossed):
                unreached = [later.pk for later, _ in loaded[index:]]  # the next transaction's
                break
            try:
                if isinstance(event, Exception):
                    error = event
                    _fail(row, error)
                elif lesson is None:
                    error = _attempt_optimistically(row, event, dispatch, budget.crossed)
                elif lesson.refused:
                    error = _attempt(row, event, dispatch, budget.crossed)
                else:
                    error, row.duration_ms = lesson.error, lesson.duration_ms
                    _fail(row, error)
            except _OverBudget:
                unreached = [later.pk for later, _ in loaded[index:]]
                break
            if error is not None and is_conflict(error):
                raise _Unbatchable(row.pk) from error
            largest = max(largest, budget.rows() - before)
            sizes[row.policy] = max(sizes.get(row.policy, 0), budget.rows() - before)
            (budget.done if error is None else budget.failed).append(row)
        held.flush()
        _mark(budget.done, budget.failed)
    outcomes[Delivery.Status.DONE] += len(budget.done)
    outcomes.update(row.status for row in budget.failed)
    return +outcomes, unreached, outside


def _load(row: Delivery) -> Event | Exception:
    """The row's event, or why it cannot be read (e.g. no upcaster for its
    version: a failure of that row alone, retried, then dead-lettered)."""
    try:
        return store.load(row.event)
    except Exception as unreadable:
        return unreadable


def _attempt(row: Delivery, event: Event, dispatch: Dispatch, crossed: Callable[[], bool]) -> Exception | None:
    """Run one delivery of a batch in its own savepoint (``Undo.SAVEPOINT``
    for its commands, so a refusal undoes its command alone); the error, if
    it raised (its effects undone). Raises ``_OverBudget``, its effects
    undone too, when ``crossed`` says it wrote past the bound. The row keeps
    how long the run took, and the span its outcome."""
    with _running(row) as span:
        started = time.perf_counter()
        try:
            with store.appends_now(), transaction.atomic():  # its savepoint may roll back alone
                apply(event, row.policy, dispatch, Undo.SAVEPOINT)
                if crossed():
                    raise _OverBudget
        except _OverBudget:
            raise
        except Exception as error:
            row.duration_ms = since(started)
            if not is_conflict(error):  # a conflict undoes the whole batch: nothing to record
                _fail(row, error)
                span.outcome(row.status, error)
            return error
        row.duration_ms = since(started)
        span.outcome(Delivery.Status.DONE)
    return None


def _attempt_optimistically(row: Delivery, event: Event, dispatch: Dispatch, crossed: Callable[[], bool]) -> None:
    """Run one delivery of a batch with no savepoint (``Undo.DELIVERY``):
    done, or a ``_Lesson`` for the batch to run again with (a conflict stays
    a conflict: the batch's rows then go one by one). A refusal abandons the
    run: its span is not recorded, the run with savepoints records one."""
    with _running(row) as span:
        started = time.perf_counter()
        try:
            apply(event, row.policy, dispatch, Undo.DELIVERY)
        except RunWithSavepoints:
            span.abandon()
            raise _Lesson(row.pk, refused=True) from None
        except Exception as error:
            if is_conflict(error):
                raise _Unbatchable(row.pk) from error
            span.outcome(status_after(row.attempts + 1, error), error)
            raise _Lesson(row.pk, error=error, duration_ms=since(started)) from error
        if crossed():
            raise _Lesson(row.pk, crossed=True)
        row.duration_ms = since(started)
        span.outcome(Delivery.Status.DONE)
    return None


@contextmanager
def _running(row: Delivery):
    stored = row.event
    with running(row.pk, stored.type, row.policy, stored.correlation_id, stored.event_id) as span:
        yield span


def _fail(row: Delivery, error: Exception) -> None:
    """Count a batch's failed attempt on its row and record the failure."""
    row.attempts += 1
    row.lease = None
    record_failure(row, row.event.type, error)


def _lock_shared_rows(loaded: list[tuple[Delivery, Event | Exception]]) -> None:
    """Call each ``locks`` function the batch's policies declare once, with
    all its events, in the order of the functions' names: every worker then
    takes the shared rows in the same order (the functions lock theirs in
    key order). A database without row locks (SQLite) needs none."""
    if not connection.features.has_select_for_update:
        return
    by_locker = {}
    for row, event in loaded:
        policy = registry.policies.get(row.policy) or registry.aliases.get(row.policy)
        if policy is not None and policy.locks is not None and not isinstance(event, Exception):
            by_locker.setdefault(policy.locks, []).append(event)
    for locks in sorted(by_locker, key=lambda locks: f"{locks.__module__}.{locks.__qualname__}"):
        try:
            locks(by_locker[locks])
        except Exception as error:
            raise _Unbatchable(f"{locks.__qualname__} failed") from error


def _mark(done: list[Delivery], failed: list[Delivery]) -> None:
    """Mark a batch's rows: the done ones in one statement (``sql.mark_done``:
    they share all but their durations) and the failed ones, each with its
    own error and retry time, in one ``bulk_update``."""
    if done:
        delivered_at = sql.mark_done([(row.pk, row.duration_ms) for row in done])
        for row in done:
            row.status, row.attempts, row.delivered_at, row.last_error, row.lease = (
                Delivery.Status.DONE,
                row.attempts + 1,
                delivered_at,
                "",
                None,
            )
    if failed:
        fields = ["status", "attempts", "last_error", "next_attempt_at", "lease", "duration_ms"]
        Delivery.objects.bulk_update(failed, fields)
