"""Leasing deliveries to the worker that will run them, and an operator's
decisions on dead letters.

A worker claims only what it can run (``workers.runnable``: a policy it
knows, an event version it reads); the rows of another release's policies
wait for that release's workers, and never count an attempt here.

A lease (``Claim``) gives a worker a set of rows until ``next_attempt_at``
by the database's clock: other workers pass them by, and take them over
with a fresh lease if the first one dies, after which the first one leaves
them alone (``delivery.deliver`` checks the lease under the row lock).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now

from ..conf import conf
from ..models import Delivery, not_held
from . import lanes
from .lanes import BACKFILL, LIVE
from .workers import runnable


@dataclass(frozen=True)
class Claim:
    """Deliveries one relay round leased: ``lease`` owns ``ids`` until the
    lease runs out or another worker takes them over; ``backfill`` are
    those of them in the backfill lane (``lanes``)."""

    lease: UUID
    ids: list[int] = field(default_factory=list)
    backfill: list[int] = field(default_factory=list)

    @property
    def live(self) -> list[int]:
        """The ids of the claim's live deliveries."""
        backfill = set(self.backfill)
        return [pk for pk in self.ids if pk not in backfill]


def claim_due(limit: int, *, outside: bool | None = None, burst: float = 1.0) -> Claim:
    """Lease up to ``limit`` open deliveries whose time has come, oldest
    first (only outside effects, or only the others, when ``outside`` says):
    live ones first, then, with the room left, backfill ones as fast as the
    backfill lane's pace allows (``lanes.paced``: ``burst`` seconds' worth at
    most, when the lane has been idle).

    The lease moves their ``next_attempt_at`` ``MESSAGING_LEASE_SECONDS``
    ahead (``MESSAGING_OUTSIDE_LEASE_SECONDS`` for outside effects, longer
    than the slowest send), so other workers pass them by, and take them
    over if this one dies; a takeover gives them a new owner, whom the first
    worker, should it wake up, leaves alone. Rows being claimed right now are
    skipped (``SKIP LOCKED``). Rows are found by status and time, never by a
    cursor: ids commit out of order, and a late commit must still be delivered.
    """
    lease = uuid4()
    with transaction.atomic(durable=True):
        ids = list(due(Now(), limit, outside=outside))
        backfill = lanes.paced(
            limit - len(ids),
            lambda room: list(due(Now(), room, outside=outside, lane=BACKFILL)),
            outside=outside,
            burst=burst,
        )
        Delivery.objects.filter(pk__in=ids + backfill).update(next_attempt_at=_lease_end(outside), lease=lease)
    return Claim(lease, ids + backfill, backfill)


def claim_opened(delivery_ids: Iterable[int], *, outside: bool) -> Claim:
    """Lease those of ``delivery_ids`` (just committed, of one kind) that
    nobody has touched yet: still pending and unleased, so due. What a
    commit hands to a queue: the sweep passes leased rows by, so it does not
    queue them a second time while they wait."""
    lease = uuid4()
    with transaction.atomic(durable=True):
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(delivery_ids), status=Delivery.Status.PENDING, lease=None, outside=outside)
            .filter(not_held(), runnable())
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=_lease_end(outside), lease=lease)
    return Claim(lease, ids)


def claim_queued(delivery_ids: list[int], *, outside: bool, queued: UUID | None = None) -> Claim:
    """Lease the deliveries of one message for the worker about to run them:
    those of ``delivery_ids`` that are still open and, with ``queued`` (the
    lease of whoever queued them), still hold that lease, or without, are
    due. Rows locked by someone else are skipped, never waited for (``SKIP
    LOCKED``): a duplicate message (a broker's redelivery, the sweep's
    resend) costs one query, and the fresh lease makes every other copy of
    the message miss. Rows this worker cannot run (``workers.runnable``: a
    policy of another release) are left alone, uncounted, under the lease
    that queued them: when it runs out the sweep queues them again, for a
    worker that knows them."""
    owned = Q(lease=queued) if queued is not None else Q(next_attempt_at__lte=Now())
    lease = uuid4()
    with transaction.atomic(durable=True):
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(owned, pk__in=delivery_ids, status__in=Delivery.OPEN, outside=outside)
            .filter(not_held(), runnable())
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            Delivery.objects.filter(pk__in=ids).update(next_attempt_at=_lease_end(outside), lease=lease)
    return Claim(lease, ids)


def release(claim: Claim) -> int:
    """Give up a claim's rows that it still owns, due at once (what could not
    be queued waits for the next sweep, not for the lease to run out)."""
    return Delivery.objects.filter(pk__in=claim.ids, lease=claim.lease, status__in=Delivery.OPEN).update(
        next_attempt_at=Now(), lease=None
    )


def _lease_end(outside: bool | None):
    """When a lease taken now runs out, by the database's clock (one clock
    for every machine's workers)."""
    seconds = conf.MESSAGING_OUTSIDE_LEASE_SECONDS if outside else conf.MESSAGING_LEASE_SECONDS
    return Now() + timedelta(seconds=seconds)


def due(now, limit: int, *, outside: bool | None = None, lane: str | None = LIVE) -> QuerySet:
    """The ids of up to ``limit`` open deliveries of ``lane`` due at ``now``
    (a time or ``Now()``), oldest first, locked as they are read and
    skipping rows locked already (the query ``claim_due`` runs, through the
    lane's partial index). A delivery held back by an earlier one of its
    policy and key (``models.not_held``, whatever its lane) is not taken: so
    at most one delivery of a key is in flight at a time; nor is one this
    process cannot run (``workers.runnable``)."""
    found = Delivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        not_held(), runnable(), status__in=Delivery.OPEN, next_attempt_at__lte=now, lane=lane
    )
    if outside is not None:
        found = found.filter(outside=outside)
    return found.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]


def backfill_waits(*, outside: bool | None = None) -> bool:
    """Whether a backfill delivery is due that this process could claim
    (not held back, one it can run): what a one-shot relay, finding nothing
    it may claim now, waits on the pace for. Never while the backfill is
    paused (``lanes.paused``)."""
    if lanes.paused():
        return False
    found = Delivery.objects.filter(
        not_held(), runnable(), status__in=Delivery.OPEN, next_attempt_at__lte=Now(), lane=BACKFILL
    )
    if outside is not None:
        found = found.filter(outside=outside)
    return found.exists()


def reopen(delivery_ids: Iterable[int]) -> int:
    """Give dead-lettered deliveries a fresh set of attempts (an operator's retry)."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=Now(), last_error="", lease=None
    )


def discard(delivery_ids: Iterable[int]) -> int:
    """Give up on dead-lettered deliveries (an operator's decision): the row
    stays, marked discarded, so the ledger still shows the event was seen
    and what became of it; it is never delivered."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD).update(
        status=Delivery.Status.DISCARDED, lease=None
    )
