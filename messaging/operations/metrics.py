"""The outbox's figures: for ``/health/``, the shell, and OpenTelemetry's
gauges (``config.telemetry``)."""

from dataclasses import dataclass

from django.db.models import Count, DurationField, ExpressionWrapper, Min, Q
from django.db.models.functions import Now

from ..models import Delivery


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds besides finished work, for an operator.

    ``pending`` and ``failed`` (waiting for their retry) are open; ``due``
    counts the open ones whose time has come; ``oldest_due_seconds`` is how
    long the longest waiting of those has been due (``None`` when nothing
    is, by the database's clock), which is how far behind delivery is;
    ``dead`` need an operator."""

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
    due = Q(status__in=Delivery.OPEN, next_attempt_at__lte=Now())
    figures = Delivery.objects.filter(status__in=[*Delivery.OPEN, Delivery.Status.DEAD]).aggregate(
        pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        dead=Count("pk", filter=Q(status=Delivery.Status.DEAD)),
        due=Count("pk", filter=due),
        oldest_wait=ExpressionWrapper(Now() - Min("next_attempt_at", filter=due), output_field=DurationField()),
    )
    wait = figures.pop("oldest_wait")
    return Backlog(**figures, oldest_due_seconds=None if wait is None else int(wait.total_seconds()))


def dead_letters() -> int:
    """How many deliveries are dead-lettered, waiting for an operator's retry
    or discard (served by the ``delivery_due`` index)."""
    return Delivery.objects.filter(status=Delivery.Status.DEAD).count()
