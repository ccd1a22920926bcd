"""Read side of the kernel: the stored log and the causal tree of a request."""

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Delivery, ScheduledCommand, StoredEvent
from .personal import opened_rows
from .registry import registry
from .schedules import SCHEDULER


def stored_events(*, correlation_id: UUID | None = None, event_type: str | None = None) -> QuerySet[StoredEvent]:
    """The event log in order, optionally narrowed to one correlation id
    and one event type."""
    events = StoredEvent.objects.order_by("position")
    if correlation_id is not None:
        events = events.filter(correlation_id=correlation_id)
    if event_type:
        events = events.filter(type=event_type)
    return events


def readable_ms(duration_ms: float | None) -> str:
    """A duration for a person: ``0.42 ms``, ``12.3 ms``, ``1.25 s``; empty
    when none was recorded (rows stored before durations were)."""
    if duration_ms is None:
        return ""
    if duration_ms >= 1000:
        return f"{duration_ms / 1000:.2f} s"
    return f"{duration_ms:.2f} ms" if duration_ms < 10 else f"{duration_ms:.1f} ms"


@dataclass
class CommandNode:
    command_id: UUID
    command_type: str
    policy: str
    actor_id: UUID | None = None
    actor: str = ""  # the actor's name, when a context knows it
    duration_ms: float | None = None  # its handler and store, recorded when it ran
    events: list["EventNode"] = field(default_factory=list)
    schedules: list["ScheduleNode"] = field(default_factory=list)

    @property
    def took(self) -> str:
        return readable_ms(self.duration_ms)


@dataclass
class ScheduleNode:
    """A command the command above scheduled, with what it became when it ran."""

    schedule: ScheduledCommand
    commands: list[CommandNode] = field(default_factory=list)


@dataclass
class PolicyNode:
    delivery: Delivery
    commands: list[CommandNode] = field(default_factory=list)

    @property
    def took(self) -> str:
        """How long the delivery's last attempt took."""
        return readable_ms(self.delivery.duration_ms)


@dataclass
class EventNode:
    event: StoredEvent
    policies: list[PolicyNode] = field(default_factory=list)
    names: dict[UUID, str] = field(default_factory=dict)  # of the ids in the payload that a context knows

    @property
    def fields(self) -> list[tuple[str, str, str]]:
        """The payload as (name, text, who or what its ids name) triples,
        nested values as compact JSON. (A template cannot iterate a payload
        dict itself: a key such as ``items`` hides the method.)"""
        return [
            (
                name,
                value if isinstance(value, str) else json.dumps(value, separators=(", ", ": ")),
                ", ".join(self.names[each] for each in _ids_in(value) if each in self.names),
            )
            for name, value in self.event.payload.items()
        ]


def _ids_in(value) -> list[UUID]:
    """The ids a payload value holds, nested lists and objects included, in order."""
    if isinstance(value, dict):
        return [each for item in value.values() for each in _ids_in(item)]
    if isinstance(value, list):
        return [each for item in value for each in _ids_in(item)]
    if isinstance(value, str) and len(value) == 36:
        try:
            return [UUID(value)]
        except ValueError:
            return []
    return []


def causal_tree(correlation_id: UUID) -> list[CommandNode]:
    """Every stored fact of one correlation id, as the tree it grew as:
    command -> its events -> the policies they fired -> the commands those
    issued -> ..., and beside a command's events the commands it scheduled
    (waiting, done, cancelled) -> the command each became, with the names
    of the people and things its payloads name by id and of each command's
    actor (``registry.names``), and how long each command and each delivery
    took when it ran. Two queries and one per namer, whatever the size of
    the tree, and one for the schedules. (A command
    that changed nothing stored no event and so does not appear.)"""
    events = opened_rows(list(StoredEvent.objects.filter(correlation_id=correlation_id).order_by("position")))
    deliveries = defaultdict(list)
    for delivery in Delivery.objects.filter(event__correlation_id=correlation_id).order_by("pk"):
        deliveries[delivery.event_id].append(delivery)

    commands: dict[UUID, CommandNode] = {}
    for event in events:
        node = commands.setdefault(
            event.command_id,
            CommandNode(
                event.command_id,
                event.command_type,
                event.policy,
                event.actor_id,
                duration_ms=event.command_duration_ms,
            ),
        )
        node.events.append(EventNode(event))

    caused = defaultdict(list)  # (event id, policy) -> commands that policy issued
    roots = []
    for command in commands.values():
        cause = command.events[0].event.causation_id
        if cause is None:
            roots.append(command)
        else:
            caused[(cause, command.policy)].append(command)

    actors = {event.actor_id for event in events if event.actor_id}
    names = registry.names(actors | {each for event in events for each in _ids_in(event.payload)})
    for command in commands.values():
        command.actor = names.get(command.actor_id, "")
        for event_node in command.events:
            event_node.names = names
            for delivery in deliveries[event_node.event.event_id]:
                event_node.policies.append(PolicyNode(delivery, caused[(event_node.event.event_id, delivery.policy)]))
    for row in ScheduledCommand.objects.filter(correlation_id=correlation_id).order_by("pk"):
        if row.scheduled_by in commands:
            node = ScheduleNode(row, caused[(row.schedule_id, SCHEDULER)])
            commands[row.scheduled_by].schedules.append(node)
    return roots


def trace_ids(roots: list[CommandNode]) -> list[str]:
    """The OpenTelemetry traces the events of a causal tree were stored in,
    in the tree's order, read from the tree (no query): usually one, the
    request's; a retry the sweep queued later runs in a trace of its own."""
    found: dict[str, None] = {}

    def walk(command: CommandNode):
        for event_node in command.events:
            if event_node.event.trace_id:
                found.setdefault(event_node.event.trace_id)
            for policy in event_node.policies:
                for each in policy.commands:
                    walk(each)

    for root in roots:
        walk(root)
    return list(found)


def render_tree(roots: list[CommandNode]) -> list[str]:
    """The causal tree as indented text lines, for the shell."""
    lines: list[str] = []

    def command(node: CommandNode, prefix: str, last: bool, top: bool):
        took = f" in {node.took}" if node.took else ""
        lines.append(f"{prefix}{_branch(last, top)}{node.command_type} (command {node.command_id}){took}")
        inner = _inner(prefix, last, top)
        for index, event_node in enumerate(node.events):
            event(event_node, inner, index == len(node.events) - 1 and not node.schedules)
        for index, schedule_node in enumerate(node.schedules):
            scheduled(schedule_node, inner, index == len(node.schedules) - 1)

    def scheduled(node: ScheduleNode, prefix: str, last: bool):
        row = node.schedule
        lines.append(
            f"{prefix}{_branch(last)}schedule {row.command_type} [{row.key}] "
            f"not before {row.not_before:%Y-%m-%d %H:%M:%S} [{_status(row)}]"
        )
        inner = _inner(prefix, last)
        for index, child in enumerate(node.commands):
            command(child, inner, index == len(node.commands) - 1, top=False)

    def event(node: EventNode, prefix: str, last: bool):
        row = node.event
        payload = ", ".join(f"{key}={value}" for key, value in row.payload.items())
        lines.append(
            f"{prefix}{_branch(last)}{row.type} v{row.version} ({payload}) at {row.occurred_at:%Y-%m-%d %H:%M:%S}"
        )
        inner = _inner(prefix, last)
        for index, policy_node in enumerate(node.policies):
            policy(policy_node, inner, index == len(node.policies) - 1)

    def policy(node: PolicyNode, prefix: str, last: bool):
        delivery = node.delivery
        took = f" in {node.took}" if node.took else ""
        lines.append(
            f"{prefix}{_branch(last)}policy {delivery.policy} "
            f"[{_status(delivery)}, {delivery.attempts} attempt(s)]{took}"
        )
        inner = _inner(prefix, last)
        for index, child in enumerate(node.commands):
            command(child, inner, index == len(node.commands) - 1, top=False)

    for root in roots:
        command(root, "", True, top=True)
    return lines


def _status(row: Delivery | ScheduledCommand) -> str:
    """A delivery's or a schedule's status as the text tree shows it, with its last error."""
    status = row.get_status_display()
    return f"{status}: {row.last_error}" if row.last_error else status


def _branch(last: bool, top: bool = False) -> str:
    return "" if top else ("└── " if last else "├── ")


def _inner(prefix: str, last: bool, top: bool = False) -> str:
    return "" if top else prefix + ("    " if last else "│   ")


def recent_requests(limit: int = 20, *, troubled: bool = False) -> list[dict]:
    """The latest correlation ids with the command that started each, newest
    first: ``correlation_id``, ``command_type``, ``started``, ``refused``
    (whether that command was refused), ``events`` (how many events the
    whole request stored), and ``failed`` and ``dead`` (how many of its
    deliveries wait for a retry or for an operator), ``actor_id`` and
    ``actor`` (who sent that command, and their name). ``troubled``: only
    the requests with a failed or dead delivery. One query, and one per
    namer for the actors' names."""
    everything = StoredEvent.objects.filter(correlation_id=OuterRef("correlation_id")).order_by()
    deliveries = Delivery.objects.filter(event__correlation_id=OuterRef("correlation_id")).order_by()
    requests = StoredEvent.objects.filter(causation_id__isnull=True)
    if troubled:
        requests = requests.filter(Exists(deliveries.filter(status__in=_TROUBLED)))
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


def _count(deliveries: QuerySet[Delivery]) -> Coalesce:
    """How many rows of a correlated ``deliveries`` subquery (0 for none)."""
    counted = deliveries.values("event__correlation_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


_TROUBLED = (Delivery.Status.FAILED, Delivery.Status.DEAD)


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


def deliveries(
    *,
    statuses: Iterable[str] = (),
    policy: str | None = None,
    event_type: str | None = None,
    older_than: timedelta | None = None,
    correlation_id: UUID | None = None,
) -> QuerySet[Delivery]:
    """Deliveries with their events, newest first, narrowed by any of: their
    statuses, the policy's name, the event's type, an age they are older
    than (since the delivery was opened), the request's correlation id."""
    rows = Delivery.objects.select_related("event").order_by("-pk")
    if statuses:
        rows = rows.filter(status__in=list(statuses))
    if policy:
        rows = rows.filter(policy=policy)
    if event_type:
        rows = rows.filter(event__type=event_type)
    if older_than is not None:
        rows = rows.filter(created_at__lte=timezone.now() - older_than)
    if correlation_id is not None:
        rows = rows.filter(event__correlation_id=correlation_id)
    return rows


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
