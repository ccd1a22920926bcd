"""The outbox's figures: for ``/health/``, the shell, and OpenTelemetry's
gauges (``config.telemetry``)."""

from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from ..models import Delivery


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds besides finished work, for an operator.

    ``pending`` and ``failed`` (waiting for their retry) are open; ``due``
    counts the open ones whose time has come; ``oldest_due_seconds`` is how
    long the longest waiting of those has been due (``None`` when nothing
    is), which is how far behind delivery is; ``dead`` need an operator."""

    pending: int
    failed: int
    dead: int
    due: int
    oldest_due_seconds: int | None


def backlog() -> Backlog:
    """The outbox at a glance, in one aggregate query. It reads only rows
    that are not done, skipped or discarded, through the ``delivery_due`` index on
    (status, next_attempt_at), so it stays cheap however many deliveries
    are done. A row a relay worker has leased is not due (its lease moved
    ``next_attempt_at`` ahead): it is being worked on."""
    now = timezone.now()
    due = Q(status__in=Delivery.OPEN, next_attempt_at__lte=now)
    figures = Delivery.objects.filter(status__in=[*Delivery.OPEN, Delivery.Status.DEAD]).aggregate(
        pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        dead=Count("pk", filter=Q(status=Delivery.Status.DEAD)),
        due=Count("pk", filter=due),
        oldest_due=Min("next_attempt_at", filter=due),
    )
    oldest = figures.pop("oldest_due")
    return Backlog(**figures, oldest_due_seconds=None if oldest is None else int((now - oldest).total_seconds()))


def dead_letters() -> int:
    """How many deliveries are dead-lettered, waiting for an operator's retry
    or discard (served by the ``delivery_due`` index)."""
    return Delivery.objects.filter(status=Delivery.Status.DEAD).count()
