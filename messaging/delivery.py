"""Running policies for committed events, exactly once each, with retries.

Each delivery runs in its own transaction: the delivery row is claimed, the
policy runs and the commands it returns are dispatched, and the row is
marked done, all in that one transaction. If the policy raises, its effects
roll back to a savepoint and the row records the failure with the next
attempt time; after ``MESSAGING_MAX_ATTEMPTS`` attempts it is dead-lettered.

Two ways in. The relay claims due rows in batches (``claim_due``: ``SKIP
LOCKED`` and a lease, so concurrent relays never take the same ones), then
``deliver`` locks each row, re-checks that it is still open, and reads the
event back from the store. Right after a commit (``deliver_opened``) the event is
still in memory, and one conditional UPDATE claims the row and marks it
done at once: it matches only an open, due row, and holds the row's lock
until the transaction ends, so a relay skips it; a failure overwrites it.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import store
from .context import Cause, caused_by, correlated
from .messages import Command, Event
from .models import Delivery
from .registry import registry

logger = logging.getLogger(__name__)

Dispatch = Callable[[Command], object]
_OPEN = (Delivery.Status.PENDING, Delivery.Status.FAILED)


def deliver(delivery_id: int, *, dispatch: Dispatch) -> str | None:
    """Attempt one delivery; return its new status, or ``None`` if it was not
    open (already done or dead, perhaps by another worker just now).

    The row lock waits rather than skips: a relay worker delivers rows its
    lease gave it, and the lock it may meet is brief (another worker's claim
    touching the row, or the on-commit path finishing it). Skipping would
    strand the row until its lease ran out."""
    with transaction.atomic(durable=True):
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk=delivery_id, status__in=_OPEN)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        with correlated(delivery.event.correlation_id):
            try:
                event = store.load(delivery.event)
            except Exception as unreadable:  # e.g. no upcaster for its version: retried, then dead-lettered
                error = unreadable
            else:
                error = _run(event, delivery.policy, dispatch)
            if error is None:
                delivery.status = Delivery.Status.DONE
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            else:
                _record_failure(delivery, delivery.event.type, error)
            delivery.save(update_fields=["status", "attempts", "delivered_at", "last_error", "next_attempt_at"])
        return delivery.status


def deliver_opened(opened: Iterable["store.Opened"], *, dispatch: Dispatch) -> Counter:
    """Attempt deliveries just opened, with their events in hand; one failing
    never stops the others."""
    outcomes = Counter()
    for delivery in opened:
        outcomes[_deliver_opened(delivery, dispatch) or "skipped"] += 1
    return outcomes


def _deliver_opened(opened: "store.Opened", dispatch: Dispatch) -> str | None:
    with transaction.atomic(durable=True):
        if not _claim_as_done(opened.delivery_id):
            return None
        with correlated(opened.event.correlation_id):
            error = _run(opened.event, opened.policy, dispatch)
            if error is None:
                return Delivery.Status.DONE
            delivery = Delivery.objects.get(pk=opened.delivery_id)  # attempts counts this one already
            _record_failure(delivery, opened.event.type_name(), error)
            delivery.delivered_at = None
            delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at"])
        return delivery.status


def _claim_as_done(delivery_id: int) -> bool:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
            "SET status = %s, attempts = attempts + 1, delivered_at = %s, last_error = '' "
            "WHERE id = %s AND status IN (%s, %s) AND next_attempt_at <= %s",
            [Delivery.Status.DONE, now, delivery_id, *_OPEN, now],
        )
        return cursor.rowcount == 1


def _run(event: Event, policy_name: str, dispatch: Dispatch) -> Exception | None:
    """Run the policy and dispatch its commands in a savepoint; the error, if
    it raised (its effects undone)."""
    try:
        policy = registry.policies[policy_name]
        with transaction.atomic(), caused_by(Cause(event.correlation_id, event.event_id, policy.name)):
            for command in policy(event) or ():
                dispatch(command)
    except Exception as error:
        return error
    logger.debug("delivered %s to %s", event.type_name(), policy_name)
    return None


def _record_failure(delivery: Delivery, event_type: str, error: Exception) -> None:
    """Mark the attempt (already counted) failed, or dead after the last one."""
    delivery.last_error = f"{type(error).__name__}: {error}"
    if delivery.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.DEAD
        logger.error(
            "dead-lettered %s to %s after %d attempts: %s",
            event_type, delivery.policy, delivery.attempts, delivery.last_error,
        )
    else:
        delivery.status = Delivery.Status.FAILED
        backoff = settings.MESSAGING_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff)
        logger.warning(
            "delivery of %s to %s failed (attempt %d, retry in %.0fs): %s",
            event_type, delivery.policy, delivery.attempts, backoff, delivery.last_error,
        )


def deliver_all(delivery_ids: Iterable[int], *, dispatch: Dispatch) -> Counter:
    """Attempt each delivery in turn; one failing never stops the others."""
    outcomes = Counter()
    for delivery_id in delivery_ids:
        outcomes[deliver(delivery_id, dispatch=dispatch) or "skipped"] += 1
    return outcomes


def claim_due(limit: int) -> list[int]:
    """Claim up to ``limit`` open deliveries whose time has come, oldest first.

    Claiming leases them: their ``next_attempt_at`` moves ``MESSAGING_LEASE_SECONDS``
    ahead, so other relay workers pass them by while this one works through
    them, and take them over if it dies. Rows another worker is claiming
    right now are skipped (``SKIP LOCKED``). Deliveries are found by status
    and time, never by an "after the last id seen" cursor: ids commit out of
    order, and an event committed late must still be delivered.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        ids = list(due(now, limit))
        Delivery.objects.filter(pk__in=ids).update(
            next_attempt_at=now + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
        )
    return ids


def due(now, limit: int) -> QuerySet:
    """The ids of up to ``limit`` open deliveries due at ``now``, oldest
    first, locked as they are read and skipping rows locked already (the
    query ``claim_due`` runs)."""
    return (
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(status__in=_OPEN, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def reopen(delivery_ids: Iterable[int]) -> int:
    """Give dead-lettered deliveries a fresh set of attempts (an operator's retry)."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="", lease=None
    )


def discard(delivery_ids: Iterable[int]) -> int:
    """Give up on dead-lettered deliveries (an operator's decision): the row
    stays, marked discarded, so the ledger still shows the event was seen
    and what became of it; it is never delivered."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD).update(
        status=Delivery.Status.DISCARDED, lease=None
    )
