"""Delivering one row: what an operator's retry, a test, and a batch that
conflicted use (``deliver``, ``deliver_all``).

A policy of the database runs exactly once per event: the delivery row is
locked, the policy runs in a savepoint and the commands it returns are
dispatched, and the row is marked, all in one transaction. A policy with an
effect outside the database (``outside``: a mail) never runs inside a
transaction, where it would hold the write lock for as long as the other
side takes: its row is leased in one short transaction, the effect runs
with no transaction open, and the row is marked in another (at least once:
a crash between the effect and the mark repeats it).
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from uuid import UUID, uuid4

from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import store
from ..conf import conf
from ..messages import Event
from ..middleware import is_conflict
from ..models import Delivery, not_held
from ..refusal_rule import Undo
from ..registry import registry
from .ledger import CONFLICT_RETRIES, Dispatch, Skipped, apply, record_failure, running, since
from .workers import runnable

logger = logging.getLogger("messaging.delivery")


class _Conflict(Exception):
    """Rolls a delivery's whole transaction back so that it runs again."""


def deliver(delivery_id: int, *, dispatch: Dispatch, lease: UUID | None = None) -> str | None:
    """Attempt one delivery; return its new status, or ``None`` if it was not
    this caller's to deliver: no longer open (done or dead, perhaps by
    another worker just now), leased by someone else, not yet due, held
    back by an earlier delivery of its policy and key, or of a policy (or
    event version) this process does not know: never an attempt counted.

    With ``lease``, the row must still belong to that claim (checked under
    the row lock); without, it must be due by the database's clock (a
    retry's backoff is never skipped). The row lock waits rather than
    skips: the lock a worker may meet on a row it leased is brief.

    A deadlock or serialization failure rolls the whole transaction back
    and runs it again at once without counting an attempt: it says nothing
    about the policy, and a new attempt resolves it."""
    owned = Q(lease=lease) if lease is not None else Q(next_attempt_at__lte=Now())
    retries = 0
    while True:
        try:
            delivery = _deliver_in_database(delivery_id, owned, dispatch, conflicts_retry=retries < CONFLICT_RETRIES)
            break
        except (_Conflict, DatabaseError) as error:
            if retries == CONFLICT_RETRIES or not (isinstance(error, _Conflict) or is_conflict(error)):
                raise
            retries += 1
            logger.info("delivery %s conflicted (%s), running it again", delivery_id, error.__cause__ or error)
            time.sleep(random.uniform(0, 0.01 * 2**retries))
    if delivery is None:  # no open delivery of the database matched: maybe an outside effect
        return _deliver_outside(delivery_id, owned)
    return delivery.status


def deliver_all(delivery_ids: Iterable[int], *, dispatch: Dispatch, lease: UUID | None = None) -> Counter:
    """Attempt each delivery in turn; one failing never stops the others."""
    outcomes = Counter()
    for delivery_id in delivery_ids:
        outcomes[deliver(delivery_id, dispatch=dispatch, lease=lease) or "skipped"] += 1
    return outcomes


def _deliver_in_database(delivery_id: int, owned: Q, dispatch: Dispatch, *, conflicts_retry: bool) -> Delivery | None:
    """The database path of ``deliver``: the row as its attempt left it, or
    ``None`` when no open delivery of the database matched."""
    with transaction.atomic(durable=True):
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(owned, not_held(), runnable(), pk=delivery_id, status__in=Delivery.OPEN, outside=False)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.lease = None
        row = delivery.event
        with running(delivery_id, row.type, delivery.policy, row.correlation_id, row.event_id) as span:
            started = time.perf_counter()
            try:
                event = store.load(delivery.event)
            except Exception as unreadable:  # e.g. no upcaster for its version: retried, then dead-lettered
                error = unreadable
            else:
                error = _run(event, delivery.policy, dispatch)
            delivery.duration_ms = since(started)
            if error is not None and conflicts_retry and is_conflict(error):
                raise _Conflict(delivery_id) from error
            if error is None:
                delivery.status = Delivery.Status.DONE
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            else:
                record_failure(delivery, delivery.event.type, error)
            fields = ["status", "attempts", "delivered_at", "last_error", "next_attempt_at", "lease", "duration_ms"]
            delivery.save(update_fields=fields)
            span.outcome(delivery.status, error)
        return delivery


def _run(event: Event, policy_name: str, dispatch: Dispatch) -> Exception | None:
    """Run the policy and dispatch its commands in a savepoint; the error, if
    it raised (its effects undone)."""
    try:
        with transaction.atomic():
            apply(event, policy_name, dispatch, Undo.SAVEPOINT)
    except Exception as error:
        return error
    return None


def _deliver_outside(delivery_id: int, owned: Q) -> str | None:
    """Lease, run outside any transaction, then mark: at least once."""
    lease = uuid4()
    until = Now() + timedelta(seconds=conf.MESSAGING_OUTSIDE_LEASE_SECONDS)
    with transaction.atomic(durable=True):
        taken = Delivery.objects.filter(owned, not_held(), runnable(), pk=delivery_id, status__in=Delivery.OPEN).update(
            lease=lease, next_attempt_at=until, attempts=F("attempts") + 1
        )
    if not taken:
        return None
    delivery = Delivery.objects.select_related("event").get(pk=delivery_id)
    row, error = delivery.event, None
    with running(delivery_id, row.type, delivery.policy, row.correlation_id, row.event_id) as span:
        started = time.perf_counter()
        try:
            policy = registry.policy(delivery.policy)
            event = store.load(delivery.event)
            outcome = policy(event)
            if outcome and not isinstance(outcome, Skipped):
                raise TypeError(f"{policy.name} has an outside effect: it may not issue commands")
        except Exception as failure:
            error = failure
            record_failure(delivery, delivery.event.type, error)
        else:
            if isinstance(outcome, Skipped):  # settled, dated like a done one, with why in place of an error
                delivery.status, delivery.last_error = Delivery.Status.SKIPPED, outcome.reason
                logger.info(
                    "skipped %s to %s: %s",
                    delivery.event.type,
                    delivery.policy,
                    outcome.reason,
                    extra={"policy": delivery.policy, "event_type": delivery.event.type, "outcome": "skipped"},
                )
            else:
                delivery.status, delivery.last_error = Delivery.Status.DONE, ""
                logger.debug("delivered %s to %s", delivery.event.type, delivery.policy)
            delivery.delivered_at = timezone.now()
        delivery.duration_ms = since(started)
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
