"""The causal tree of one request: command -> events -> policies (with their
deliveries) -> the commands they issued, for the trace page and the shell."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from ..features.schedules import SCHEDULER
from ..models import Delivery, ScheduledCommand, StoredEvent
from ..personal import opened_rows
from ..registry import registry


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


@dataclass(frozen=True)
class Bar:
    """One command or delivery on the timeline: when it started, from the
    timeline's start, and how long it took, both in milliseconds."""

    label: str
    kind: str  # "command", "policy" or "outside" (a mail)
    depth: int  # how far down the tree
    start_ms: float
    duration_ms: float
    left: float  # percent of the timeline before it
    width: float  # percent of the timeline it spans (a sliver at least, to be seen)
    in_request: bool = True  # the request's own work, or a worker's, later

    @property
    def took(self) -> str:
        return readable_ms(self.duration_ms)

    @property
    def starts(self) -> str:
        return f"+{self.start_ms:.1f} ms" if self.start_ms < 1000 else f"+{self.start_ms / 1000:.2f} s"


@dataclass(frozen=True)
class Lane:
    name: str  # "request" or "workers"
    title: str
    bars: list[Bar]


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    span_ms: float  # from the first start to the last end
    request_end_ms: float | None = None  # when the request's own last work ended; None when it has none

    @property
    def request_bars(self) -> list[Bar]:
        """What the request did itself: its commands and what ran on their commit."""
        return [bar for bar in self.bars if bar.in_request]

    @property
    def worker_bars(self) -> list[Bar]:
        """What workers did later: relay (or queue) deliveries and what they set off."""
        return [bar for bar in self.bars if not bar.in_request]

    @property
    def lanes(self) -> list["Lane"]:
        """The request's own bars, then the workers', each lane left out when empty."""
        lanes = [
            Lane("request", "In the request", self.request_bars),
            Lane("workers", "Later, by workers", self.worker_bars),
        ]
        return [lane for lane in lanes if lane.bars]

    @property
    def request_end(self) -> float:
        """Where the request's own work ends, in percent of the timeline."""
        return (self.request_end_ms or 0.0) / self.span_ms * 100


def timeline(roots: list[CommandNode]) -> Timeline | None:
    """Each command and each delivery of a causal tree that recorded its
    duration, as a bar on one time axis, in the tree's order (no query);
    ``None`` when none did.

    A command's duration ends just before its events' INSERT, and its events
    are made at the end of its handler, so it ends (closely enough) when its
    last event was made. A delivery ends when it was marked done
    (``delivered_at``): one still pending, failed or dead has no bar. Times
    are the recording processes' clocks, so a relay worker's bars sit where
    it ran them, later, beside the request's own.

    A bar is the request's own work (``in_request``) when it is a command
    the request dispatched, a delivery run on the commit of the request's
    own work (``Delivery.ran_on_commit``), or a command such a delivery
    issued; everything else a worker did later (a relay's claim, a
    scheduled command, and whatever those set off, on commit or not).
    """
    spans: list[tuple[str, str, int, datetime, float, bool]] = []  # label, kind, depth, end, ms, in the request

    def walk(command: CommandNode, depth: int, in_request: bool) -> None:
        if command.duration_ms is not None:
            end = max(node.event.occurred_at for node in command.events)
            spans.append((command.command_type, "command", depth, end, command.duration_ms, in_request))
        for event_node in command.events:
            for policy in event_node.policies:
                delivery = policy.delivery
                on_commit = in_request and delivery.ran_on_commit
                if delivery.duration_ms is not None and delivery.delivered_at is not None:
                    kind = "outside" if delivery.outside else "policy"
                    spans.append(
                        (delivery.policy, kind, depth + 1, delivery.delivered_at, delivery.duration_ms, on_commit)
                    )
                for child in policy.commands:
                    walk(child, depth + 2, on_commit)
        for schedule in command.schedules:
            for child in schedule.commands:
                walk(child, depth + 1, False)

    for root in roots:
        walk(root, 0, True)
    if not spans:
        return None
    # Milliseconds from the earliest end, in timedeltas: exact to the microsecond.
    first_end = min(span[3] for span in spans)
    ends = [(span[3] - first_end) / timedelta(milliseconds=1) for span in spans]
    origin = min(end - span[4] for end, span in zip(ends, spans, strict=True))
    span_ms = max(ends) - origin or 1.0
    bars = []
    for end, (label, kind, depth, _, duration, in_request) in zip(ends, spans, strict=True):
        start_ms = end - duration - origin
        left, width = start_ms / span_ms * 100, max(duration / span_ms * 100, 0.25)  # a sliver at least
        bars.append(Bar(label, kind, depth, start_ms, duration, left, width, in_request))
    own = [bar.start_ms + bar.duration_ms for bar in bars if bar.in_request]
    return Timeline(bars, span_ms, max(own) if own else None)


def render_tree(roots: list[CommandNode]) -> list[str]:
    """The causal tree as indented text lines, for the shell, naming people
    and things beside their ids as the page does (``EventNode.fields``)."""
    lines: list[str] = []

    def command(node: CommandNode, prefix: str, last: bool, top: bool):
        took = f" in {node.took}" if node.took else ""
        by = f" by {node.actor}" if node.actor else ""
        lines.append(f"{prefix}{_branch(last, top)}{node.command_type} (command {node.command_id}){by}{took}")
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
        # the page's fields: each id followed by the name of whom or what it stands for
        payload = ", ".join(f"{name}={text}" + (f" ({named})" if named else "") for name, text, named in node.fields)
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
