"""The operator's view of the log: stored events, recent requests, deliveries."""

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.db.models import Case, Count, Exists, Min, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Now

from ..models import Delivery, StoredEvent, blockers
from ..registry import registry


def stored_events(*, correlation_id: UUID | None = None, event_type: str | None = None) -> QuerySet[StoredEvent]:
    """The event log in order, optionally narrowed to one correlation id
    and one event type."""
    events = StoredEvent.objects.order_by("position")
    if correlation_id is not None:
        events = events.filter(correlation_id=correlation_id)
    if event_type:
        events = events.filter(type=event_type)
    return events


def recent_requests(limit: int = 20, *, troubled: bool = False) -> list[dict]:
    """The latest correlation ids with the command that started each, newest
    first: ``correlation_id``, ``command_type``, ``started``, ``refused``
    (whether that command was refused), ``events`` (how many events the
    whole request stored), and ``failed`` and ``dead`` (how many of its
    deliveries wait for a retry or for an operator), ``actor_id`` and
    ``actor`` (who sent that command, and their name). ``troubled``: only
    the requests with a failed or dead delivery. One query, and one per
    namer for the actors' names, after the one that picks the requests:
    a bounded walk back along the index of the requests' events
    (``event_of_a_request``), so the page costs the same at a million events
    as at a hundred (tests/perf/test_trace_index.py)."""
    everything = StoredEvent.objects.filter(correlation_id=OuterRef("correlation_id")).order_by()
    deliveries = Delivery.objects.filter(event__correlation_id=OuterRef("correlation_id")).order_by()
    requests = StoredEvent.objects.filter(causation_id__isnull=True)
    if troubled:
        requests = requests.filter(Exists(deliveries.filter(status__in=_TROUBLED)))
    requests = requests.filter(correlation_id__in=_latest_correlations(requests, limit))
    recent = list(
        requests.values("correlation_id", "command_type", "actor_id")
        .annotate(
            started=Min("occurred_at"),
            first=Min("position"),
            refused=Count("pk", filter=Q(is_rejection=True)),
            events=Subquery(everything.values("correlation_id").annotate(n=Count("pk")).values("n")),
            failed=_count(deliveries.filter(status=Delivery.Status.FAILED)),
            dead=_count(deliveries.filter(status=Delivery.Status.DEAD)),
        )
        .order_by("-first")[:limit]
    )
    actors = registry.names({item["actor_id"] for item in recent if item["actor_id"]})
    for item in recent:
        item["actor"] = actors.get(item["actor_id"], "")
    return recent


def _latest_correlations(requests: QuerySet[StoredEvent], limit: int) -> list[UUID]:
    """The correlation ids of the ``limit`` latest of ``requests`` (the
    top-level commands' events), newest first: read backwards along the
    log's position a window at a time, widened until it holds ``limit``
    requests or the log's start (a request stores one event or a few)."""
    window = limit * 4
    while True:
        found = list(requests.order_by("-position").values_list("correlation_id", flat=True)[:window])
        latest = list(dict.fromkeys(found))[:limit]
        if len(latest) == limit or len(found) < window:
            return latest
        window *= 4


def _count(deliveries: QuerySet[Delivery]) -> Coalesce:
    """How many rows of a correlated ``deliveries`` subquery (0 for none)."""
    counted = deliveries.values("event__correlation_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


_TROUBLED = (Delivery.Status.FAILED, Delivery.Status.DEAD)


def deliveries(
    *,
    statuses: Iterable[str] = (),
    policy: str | None = None,
    event_type: str | None = None,
    older_than: timedelta | None = None,
    correlation_id: UUID | None = None,
    held: bool = False,
    since: datetime | timedelta | None = None,
    until: datetime | timedelta | None = None,
) -> QuerySet[Delivery]:
    """Deliveries with their events, newest first, narrowed by any of: their
    statuses, the policy's name, the event's type, an age they are older
    than (since the delivery was opened), the request's correlation id,
    ``held`` (only those held back by an earlier one of their key), and a
    window on when the delivery was opened, ``since`` (inclusive) and
    ``until`` (exclusive): each a datetime, or an age before now by the
    database's clock. Each row
    carries ``held_by``: for an open one held back, the id of the earliest
    delivery of its policy and key that holds it (open or dead), else ``None``."""
    rows = Delivery.objects.select_related("event").order_by("-pk").annotate(held_by=_held_by())
    if held:
        rows = rows.filter(held_by__isnull=False)
    if statuses:
        rows = rows.filter(status__in=list(statuses))
    if policy:
        rows = rows.filter(policy=policy)
    if event_type:
        rows = rows.filter(event__type=event_type)
    if older_than is not None:
        rows = rows.filter(created_at__lte=Now() - older_than)  # by the database's clock
    if correlation_id is not None:
        rows = rows.filter(event__correlation_id=correlation_id)
    if since is not None:
        rows = rows.filter(created_at__gte=_moment(since))
    if until is not None:
        rows = rows.filter(created_at__lt=_moment(until))
    return rows


def _moment(when: datetime | timedelta):
    """A datetime as it is, an age as that long before now by the database's clock."""
    return Now() - when if isinstance(when, timedelta) else when


def _held_by() -> Case:
    """The earliest delivery holding back the outer one, when it is open and has a key."""
    first = Subquery(blockers().order_by("event__position").values("pk")[:1])
    return Case(When(status__in=Delivery.OPEN, ordering_key__isnull=False, then=first), default=None)


def parse_moment(text: str) -> datetime | timedelta:
    """A moment written as an age before now (``2h``, as ``parse_age``) or as
    an ISO 8601 date or datetime (``2026-12-07``, ``2026-12-07T10:30Z``; one
    without a zone is in UTC). Raises ``ValueError`` with a reason."""
    text = text.strip()
    if _AGE.fullmatch(text):
        return parse_age(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an age such as 2h nor a date such as 2026-12-07T10:30Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_AGE = re.compile(r"(\d{1,7})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MAX_AGE = timedelta(days=3650)


def parse_age(text: str) -> timedelta:
    """An age written as a number and a unit: ``45s``, ``30m``, ``2h``,
    ``1d``; at most ten years (``MAX_AGE``), so that "now minus the age" is
    always a date. Raises ``ValueError`` with a reason for anything else."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an age such as 45s, 30m, 2h or 1d")
    age = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if age > MAX_AGE:
        raise ValueError(f"{text!r} is more than ten years")
    return age
