"""The outbox's figures: for ``/health/``, the shell, and OpenTelemetry's
gauges (``config.telemetry``)."""

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db.models import Count, DateTimeField, DurationField, Exists, ExpressionWrapper, F, Min, Q
from django.db.models.functions import Now

from ..features import schedules
from ..models import Delivery, ScheduledCommand, Sweep, blockers


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds besides finished work, for an operator.

    ``pending`` and ``failed`` (waiting for their retry) are open; ``due``
    counts the open ones whose time has come; ``oldest_due_seconds`` is how
    long the longest waiting of those has been due (``None`` when nothing
    is, by the database's clock), which is how far behind delivery is;
    ``dead`` need an operator. ``due`` and ``oldest_due_seconds`` are the
    live lane's (what readiness reads): a replay's rows, ``backfill`` (open),
    are owed at their pace, and make no node unready.

    ``overdue_schedules`` counts the waiting schedules whose time has come,
    ``oldest_overdue_schedule_seconds`` how long the longest of them has
    waited, and ``last_sweep_seconds_ago`` how long ago the schedules were
    last swept (``None``: never): with Celery's beat or every relay down,
    these grow while the deliveries' figures stay still."""

    pending: int
    failed: int
    dead: int
    due: int
    oldest_due_seconds: int | None
    overdue_schedules: int = 0
    oldest_overdue_schedule_seconds: int | None = None
    last_sweep_seconds_ago: int | None = None
    held: int = 0
    backfill: int = 0


def held() -> int:
    """How many open deliveries are held back by an earlier one of their
    policy and ordering key, open or dead (``deliveries list --held`` names
    them and what holds them). Reads only open rows with a key."""
    return Delivery.objects.filter(_held()).count()


def _held() -> Q:
    return Q(status__in=Delivery.OPEN, ordering_key__isnull=False) & Q(Exists(blockers()))


def backlog() -> Backlog:
    """The outbox at a glance, in one aggregate query per table (deliveries,
    schedules, the sweep's time), all by the database's clock. It reads only rows
    that are not done, skipped or discarded, through the ``delivery_due`` index on
    (status, next_attempt_at), so it stays cheap however many deliveries
    are done. A row a relay worker has leased is not due (its lease moved
    ``next_attempt_at`` ahead): it is being worked on."""
    due = Q(status__in=Delivery.OPEN, next_attempt_at__lte=Now(), lane=None)
    figures = Delivery.objects.filter(status__in=[*Delivery.OPEN, Delivery.Status.DEAD]).aggregate(
        pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        dead=Count("pk", filter=Q(status=Delivery.Status.DEAD)),
        due=Count("pk", filter=due),
        oldest_wait=ExpressionWrapper(Now() - Min("next_attempt_at", filter=due), output_field=DurationField()),
        held=Count("pk", filter=_held()),
        backfill=Count("pk", filter=Q(status__in=Delivery.OPEN, lane=Delivery.BACKFILL)),
    )
    wait = figures.pop("oldest_wait")
    overdue = Q(not_before__lte=Now())
    waiting = ScheduledCommand.objects.filter(status=ScheduledCommand.Status.WAITING).aggregate(
        overdue=Count("pk", filter=overdue),
        oldest_wait=ExpressionWrapper(Now() - Min("not_before", filter=overdue), output_field=DurationField()),
    )
    swept = (
        Sweep.objects.filter(name=schedules.SWEEP)
        .annotate(ago=ExpressionWrapper(Now() - F("swept_at"), output_field=DurationField()))
        .values_list("ago", flat=True)
        .first()
    )
    return Backlog(
        **figures,
        oldest_due_seconds=_seconds(wait),
        overdue_schedules=waiting["overdue"],
        oldest_overdue_schedule_seconds=_seconds(waiting["oldest_wait"]),
        last_sweep_seconds_ago=_seconds(swept),
    )


THROUGHPUT_WINDOW = timedelta(minutes=5)
"""Throughput is the rows done in this window before now, per minute."""

DATABASE, OUTSIDE = "database", "outside"
"""The two lanes of live deliveries: effects in the database (exactly once) and outside it (mail, at least once)."""

BACKFILL, OUTSIDE_BACKFILL = "backfill", "outside backfill"
"""The same two of a replay's deliveries (``Delivery.lane``): after live ones, at their pace."""

LANES = (DATABASE, OUTSIDE, BACKFILL, OUTSIDE_BACKFILL)


def _lane(outside: bool, lane: str | None) -> str:
    if lane == Delivery.BACKFILL:
        return OUTSIDE_BACKFILL if outside else BACKFILL
    return OUTSIDE if outside else DATABASE


@dataclass(frozen=True)
class Lag:
    """How far behind one policy is on one lane.

    ``waiting`` counts its open rows (pending, or failed waiting for their
    retry), ``failed`` those of them that failed, ``due`` those whose time has
    come; ``oldest_due_seconds`` is how long the longest due of them has been
    due by the database's clock (``None``: nothing is due); ``held`` counts
    the open rows held back by an earlier one of their ordering key.
    ``done_recently`` counts the rows done in ``THROUGHPUT_WINDOW``,
    ``per_minute`` the same per minute."""

    policy: str
    lane: str
    waiting: int
    failed: int
    due: int
    oldest_due_seconds: int | None
    held: int
    done_recently: int
    per_minute: float

    def as_dict(self) -> dict:
        return asdict(self)


def lag() -> list[Lag]:
    """The lag of each policy on each lane with rows waiting or done lately
    (a replay's rows on a backfill lane of their own), ordered by policy
    then lane: two aggregate queries grouped by policy and
    lane, by the database's clock. The first reads only the open rows through
    the ``delivery_due`` index (status, next_attempt_at), like ``backlog``;
    the second reads only the rows done in the window, through the partial
    ``delivery_done_at`` index (delivered_at, of done rows): however many
    done rows retention keeps, it reads a few minutes' worth."""
    due = Q(next_attempt_at__lte=Now())
    waiting = (
        Delivery.objects.filter(status__in=Delivery.OPEN)
        .values("policy", "outside", "lane")
        .annotate(
            waiting=Count("pk"),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
            due=Count("pk", filter=due),
            oldest_wait=ExpressionWrapper(Now() - Min("next_attempt_at", filter=due), output_field=DurationField()),
            held=Count("pk", filter=_held()),
        )
        .order_by()
    )
    since = ExpressionWrapper(Now() - THROUGHPUT_WINDOW, output_field=DateTimeField())
    done = (
        Delivery.objects.filter(status=Delivery.Status.DONE, delivered_at__gte=since)
        .values("policy", "outside", "lane")
        .annotate(done=Count("pk"))
        .order_by()
    )
    open_rows = {(row["policy"], _lane(row["outside"], row["lane"])): row for row in waiting}
    done_rows = {(row["policy"], _lane(row["outside"], row["lane"])): row["done"] for row in done}
    minutes = THROUGHPUT_WINDOW.total_seconds() / 60
    figures = []
    for policy, lane in sorted(open_rows.keys() | done_rows.keys(), key=lambda key: (key[0], LANES.index(key[1]))):
        row = open_rows.get((policy, lane), {})
        recently = done_rows.get((policy, lane), 0)
        figures.append(
            Lag(
                policy=policy,
                lane=lane,
                waiting=row.get("waiting", 0),
                failed=row.get("failed", 0),
                due=row.get("due", 0),
                oldest_due_seconds=_seconds(row.get("oldest_wait")),
                held=row.get("held", 0),
                done_recently=recently,
                per_minute=round(recently / minutes, 2),
            )
        )
    return figures


def _seconds(wait) -> int | None:
    return None if wait is None else int(wait.total_seconds())


def dead_letters() -> int:
    """How many deliveries are dead-lettered, waiting for an operator's retry
    or discard (served by the ``delivery_due`` index)."""
    return Delivery.objects.filter(status=Delivery.Status.DEAD).count()
