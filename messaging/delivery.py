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
repeats it. ``Permanent`` failures (a refused address) dead-letter at once.

Three ways in. The relay claims due rows in batches (``claiming.claim_due``:
``SKIP LOCKED`` and a lease with an owner, so concurrent relays never take
the same ones) and delivers what its claim owns (``deliver_claimed``): a row
whose lease another worker has taken over since is left alone. Right after
a commit (``deliver_opened``) the event is still in memory, and one
conditional UPDATE claims the row and marks it done at once: it matches
only an open, due row, and holds the row's lock until the transaction ends,
so a relay skips it; a failure overwrites it. That path delivers at most
``MESSAGING_DELIVER_ON_COMMIT_LIMIT`` rows per commit, cascades included,
and never an outside effect: the request that committed answers after a
bounded amount of work and the relay takes the rest. Anyone else (an
operator's retry, a test) calls ``deliver`` on a row that is due.

With a queue of background workers (Celery, ``messaging.tasks``), what a
commit leaves is leased (``claim_opened``) and queued one id a message;
the worker takes the row over (``claim_one``: ``SKIP LOCKED``, a fresh
lease) and delivers what it owns. Leases and due times are compared on the
database's clock (``Now()``), the one clock every machine shares.
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import cache
from uuid import UUID, uuid4

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from . import store
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


class Permanent(Exception):
    """Raised by an outside effect when trying again cannot help (the mail
    server refused the address): the delivery is dead-lettered at once."""


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
        with correlated(delivery.event.correlation_id):
            try:
                event = store.load(delivery.event)
            except Exception as unreadable:  # e.g. no upcaster for its version: retried, then dead-lettered
                error = unreadable
            else:
                error = _run(event, delivery.policy, dispatch)
            if error is not None and conflicts_retry and is_conflict(error):
                raise _Conflict(delivery_id) from error
            if error is None:
                delivery.status = Delivery.Status.DONE
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            else:
                _record_failure(delivery, delivery.event.type, error)
            fields = ["status", "attempts", "delivered_at", "last_error", "next_attempt_at", "lease"]
            delivery.save(update_fields=fields)
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
    with correlated(delivery.event.correlation_id):
        try:
            policy = registry.policies[delivery.policy]
            event = store.load(delivery.event)
            if policy(event):
                raise TypeError(f"{policy.name} has an outside effect: it may not issue commands")
        except Exception as error:
            _record_failure(delivery, delivery.event.type, error)
        else:
            delivery.status, delivery.delivered_at, delivery.last_error = Delivery.Status.DONE, timezone.now(), ""
            logger.debug("delivered %s to %s", delivery.event.type, delivery.policy)
        with transaction.atomic(durable=True):
            marked = Delivery.objects.filter(pk=delivery_id, lease=lease, status__in=Delivery.OPEN).update(
                status=delivery.status,
                delivered_at=delivery.delivered_at,
                last_error=delivery.last_error,
                next_attempt_at=delivery.next_attempt_at,
                lease=None,
            )
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
    never stops the others. Deadlines wait for their time. Outside effects,
    and whatever exceeds the commit's budget, are left pending for the relay,
    and given to ``hand_off`` when there is one (a queue of background
    workers). A failure is not handed off: it waits for its retry time and
    the sweep."""
    outcomes, left = Counter(), []
    with _budget() as budget:
        for delivery in opened:
            if delivery.later:
                outcomes["scheduled"] += 1
                continue
            if delivery.outside or budget[0] <= 0:
                outcomes["left to the relay"] += 1
                left.append(delivery)
                continue
            budget[0] -= 1
            outcomes[_deliver_opened(delivery, dispatch) or "skipped"] += 1
    if left and hand_off is not None:
        hand_off(left)
    return outcomes


def _deliver_opened(opened: "store.Opened", dispatch: Dispatch) -> str | None:
    """Claim the row as done and run the policy in one transaction, with no
    savepoint: a failure rolls it back whole (the claim with it), and a
    second transaction claims the row again to record the failure."""
    with correlated(opened.event.correlation_id):
        try:
            with transaction.atomic(durable=True):
                if not _claim_as_done(opened.delivery_id):
                    return None
                _apply(opened.event, opened.policy, dispatch)
            return Delivery.Status.DONE
        except Exception as error:
            failure = error
        with transaction.atomic(durable=True):
            if not _claim_as_done(opened.delivery_id):
                return None  # taken by someone else since the roll-back
            delivery = Delivery.objects.get(pk=opened.delivery_id)  # attempts counts this one already
            _record_failure(delivery, opened.event.type_name(), failure)
            delivery.delivered_at = None
            delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at"])
        return delivery.status


def _claim_as_done(delivery_id: int) -> bool:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_as_done_sql(connection.vendor), [Delivery.Status.DONE.value, now, delivery_id, *_OPEN, now]
        )
        return cursor.rowcount == 1


@cache
def _claim_as_done_sql(vendor: str) -> str:
    """The on-commit claim's UPDATE, built once per backend."""
    return (
        f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
        "SET status = %s, attempts = attempts + 1, delivered_at = %s, last_error = '' "
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
    if delivery.attempts >= settings.MESSAGING_MAX_ATTEMPTS or isinstance(error, Permanent):
        delivery.status = Delivery.Status.DEAD
        logger.error(
            "dead-lettered %s to %s after %d attempt(s): %s",
            event_type,
            delivery.policy,
            delivery.attempts,
            delivery.last_error,
        )
    else:
        delivery.status = Delivery.Status.FAILED
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


def deliver_all(delivery_ids: Iterable[int], *, dispatch: Dispatch, lease: UUID | None = None) -> Counter:
    """Attempt each delivery in turn; one failing never stops the others."""
    outcomes = Counter()
    for delivery_id in delivery_ids:
        outcomes[deliver(delivery_id, dispatch=dispatch, lease=lease) or "skipped"] += 1
    return outcomes
