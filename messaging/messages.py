"""The base types every context builds on: commands, events, rejections.

All three are frozen, keyword-only dataclasses. Their own fields are ids,
primitives and value objects (never ORM rows); the metadata fields below
are filled by whoever issues the message and completed by the bus.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid4

from django.utils import timezone

from .serialization import to_primitive

# Names of the metadata fields, which are not part of a message's payload.
COMMAND_METADATA = ("command_id", "correlation_id", "causation_id", "actor_id", "idempotency_key", "issued_at")
EVENT_METADATA = ("event_id", "occurred_at", "command_id", "correlation_id", "causation_id")


def _payload(message, metadata: tuple[str, ...]) -> dict:
    return {
        f.name: to_primitive(getattr(message, f.name)) for f in dataclasses.fields(message) if f.name not in metadata
    }


@dataclass(frozen=True, kw_only=True)
class Command:
    """An intent to change state, handled by exactly one handler.

    ``correlation_id`` ties together everything one request set off; the
    bus sets it to ``command_id`` when nobody did. ``causation_id`` is the
    id of the event whose policy issued this command (``None`` when an
    interface issued it). ``actor_id`` is the authenticated account acting,
    taken from authentication and never from a request body.

    ``policy_only`` commands (declared by subclassing ``PolicyCommand``)
    are consequences of events: the bus refuses them from every interface.
    """

    policy_only: ClassVar[bool] = False

    command_id: UUID = field(default_factory=uuid4)
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    actor_id: UUID | None = None
    idempotency_key: str | None = None
    issued_at: datetime = field(default_factory=timezone.now)

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def payload(self) -> dict:
        """The command's own fields as JSON primitives (metadata left out)."""
        return _payload(self, COMMAND_METADATA)


@dataclass(frozen=True, kw_only=True)
class PolicyCommand(Command):
    """A command only a policy issues, in reaction to an event (it carries
    a ``causation_id``). Sent by hand (the shell, a page, the API) it would
    skip the rule that makes it safe, so the bus refuses it with
    ``policy_only``."""

    policy_only: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact that happened. ``version`` is bumped whenever the payload's
    shape changes; an upcaster registered for the old version rewrites
    stored payloads when they are read."""

    version: ClassVar[int] = 1

    event_id: UUID = field(default_factory=uuid4)
    occurred_at: datetime = field(default_factory=timezone.now)
    command_id: UUID | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    def payload(self) -> dict:
        """The event's own fields as JSON primitives (metadata left out)."""
        return _payload(self, EVENT_METADATA)


@dataclass(frozen=True, kw_only=True)
class Rejection(Event):
    """A refused command, recorded like any other fact.

    ``code`` is stable (clients and tests match on it); ``reason`` is for
    people. Subclasses name what was refused: ``FollowRejected``.
    """

    code: str
    reason: str

    @classmethod
    def refuse(cls, code: str, reason: str) -> "Refused":
        """The exception a handler raises to refuse: ``raise FollowRejected.refuse("blocked", "...")``."""
        return Refused(cls(code=code, reason=reason))


class Refused(Exception):
    """Raised by a handler (or a rule it calls) to refuse its command.

    The bus rolls back whatever the handler wrote, records the rejection
    and returns it; the exception never reaches the caller.
    """

    def __init__(self, rejection: Rejection):
        super().__init__(f"{rejection.code}: {rejection.reason}")
        self.rejection = rejection


@dataclass(frozen=True, kw_only=True)
class IdempotencyKeyReused(Rejection):
    """An idempotency key came back with a different command."""

    @classmethod
    def now(cls) -> "IdempotencyKeyReused":
        return cls(
            code="idempotency_key_reused", reason="This idempotency key was already used for a different request."
        )


@dataclass(frozen=True, kw_only=True)
class CommandRejected(Rejection):
    """The bus refused a command before its handler ran (``policy_only``)."""

    @classmethod
    def policy_only(cls, command: Command) -> "CommandRejected":
        return cls(
            code="policy_only",
            reason=f"{command.type_name()} is issued only by a policy, in reaction to an event; it cannot be sent.",
        )


@dataclass
class Result:
    """What a dispatch produced: its events (a rejection is one of them).

    ``replayed`` is true when an idempotency key matched an earlier
    dispatch and these are that dispatch's events, not new ones.
    """

    command: Command
    events: list[Event]
    replayed: bool = False
    duration_ms: float | None = field(default=None, compare=False)

    @property
    def rejection(self) -> Rejection | None:
        return next((event for event in self.events if isinstance(event, Rejection)), None)

    @property
    def ok(self) -> bool:
        return self.rejection is None


Next = Callable[[Command], Result]
