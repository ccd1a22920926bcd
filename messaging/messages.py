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

from .refusals import KernelRefusal, Refusal
from .serialization import field_types, to_primitive

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

    ``code`` is stable (clients and tests match on it): a declared
    ``Refusal`` when made, plain text when read back from the store.
    ``reason`` is for people. Subclasses name what was refused:
    ``FollowRejected``. ``subject`` names what the command was about, as
    ids only: the bus fills it from the command's ``UUID`` fields
    (``subject_of``), so every refusal keeps its subject without its
    handler's help and no secret (a password, an e-mail) gets in. v1
    rejections had no subject.
    """

    version: ClassVar[int] = 2

    code: str
    reason: str
    subject: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def refuse(cls, code: Refusal, reason: str | None = None, *, subject: dict[str, str] | None = None) -> "Refused":
        """The exception a handler raises to refuse, e.g.
        ``raise FollowRejected.refuse(AccountRefusal.BLOCKED, "...")``.

        ``code`` must be a declared ``Refusal`` (a bare string is a
        ``TypeError``, so no code escapes its declaration); without a
        ``reason`` the refusal gives the code's declared message.
        ``subject`` adds ids the command does not carry itself (the book
        out of stock in an order's lines) to those the bus takes from it.
        """
        if not isinstance(code, Refusal):
            raise TypeError(f"refuse with a declared Refusal, not {code!r}")
        reason = code.message if reason is None else reason
        return Refused(cls(code=code, reason=reason, subject=dict(subject or {})))

    def about(self, command: "Command") -> "Rejection":
        """This rejection with the ids of ``command`` in its subject (the
        handler's own entries win)."""
        return dataclasses.replace(self, subject={**subject_of(command), **self.subject})


def subject_of(command: Command) -> dict[str, str]:
    """The ids a command is about, as text: its own fields typed ``UUID``,
    and its ``actor_id`` (who asked: the customer of a refused order, whose
    command carries no other id; the event store keeps no actor otherwise)."""
    hints = field_types(type(command))
    names = [f.name for f in dataclasses.fields(command) if f.name not in COMMAND_METADATA]
    ids = [name for name in names if hints[name] in (UUID, UUID | None)] + ["actor_id"]
    return {name: str(value) for name in ids if (value := getattr(command, name)) is not None}


def rejection_with_empty_subject(payload: dict) -> dict:
    """Upcast a v1 rejection (stored before rejections kept their subject):
    its subject is unknown, so empty."""
    return {**payload, "subject": {}}


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
        code = KernelRefusal.IDEMPOTENCY_KEY_REUSED
        return cls(code=code, reason=code.message)


@dataclass(frozen=True, kw_only=True)
class CommandRejected(Rejection):
    """The bus refused a command before its handler ran (``policy_only``)."""

    @classmethod
    def policy_only(cls, command: Command) -> "CommandRejected":
        return cls(
            code=KernelRefusal.POLICY_ONLY,
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
