"""The one place that knows which handler takes which command, which
policies listen to which event, which projections keep read models of
which events, how to read old event payloads, and every refusal code.

Each app fills it from its own ``wiring.py`` (called from
``AppConfig.ready()``), so ``grep register_handler`` finds every route.
"""

import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from uuid import UUID

from .messages import Command, Event, Rejection, rejection_with_empty_subject
from .refusals import Refusal
from .serialization import field_types

Handler = Callable[[Command], list[Event]]
PolicyFunction = Callable[[Event], Iterable[Command] | None]
Locker = Callable[[list[Event]], None]
Projector = Callable[[Event], None]
Upcaster = Callable[[dict], dict]
Invariant = Callable[[], Iterable[str]]
Namer = Callable[[set[UUID]], dict[UUID, str]]
MailRenderer = Callable[[UUID, UUID | None, dict[str, str]], object]  # -> outbox.Mail, or None: nobody to write to
PersonalDataExport = Callable[[UUID], object]  # -> JSON primitives, value objects, dataclasses (to_primitive)

# The keys ``messaging.access.export`` writes itself: no section may take them.
_RESERVED_SECTIONS = frozenset({"account_id", "exported_at", "events"})


class RegistryError(Exception):
    """Wiring is wrong: a duplicate registration or an unknown type."""


class UnknownCommand(RegistryError):
    def __init__(self, name: str, known: Iterable[str]):
        self.known = sorted(known)
        super().__init__(f"unknown command {name!r}; known commands: {', '.join(self.known)}")


@dataclass(frozen=True)
class Policy:
    """A consequence of an event: a function returning the commands to issue,
    or, when ``outside``, doing one job outside the database (sending a
    mail), which the kernel runs outside any transaction, at least once.

    ``locks``, when given, locks the shared rows (counters, stock) that
    deliveries of these events will write, in key order: the relay calls it
    once for a batch's events, before running any of them, so that batched
    workers take shared rows in one global order and never deadlock each
    other. Policies sharing rows share one ``locks`` function.

    ``ordered_by``, when given, names the key (an aggregate's id) whose
    deliveries of this policy take effect in the order of their events: one
    of them is not run while an earlier one of its key is open or dead
    (docs/architecture.md, "Ordered per key").

    ``name`` is its stable identity: delivery rows and its subscription are
    stored by it. ``aliases`` are the names it had before (a rename): it
    runs their rows, and no sweep opens a second delivery of an event one
    of them already has (docs/operations.md, "Renaming, retiring and
    upgrading a policy").

    ``relay_only``: never delivered right after the commit in the committing
    process (``delivery.on_commit``), always by a relay or a worker, so that
    the request's work does not depend on what the policy finds (a password
    reset for an address nobody uses answers as fast as one for a known
    address)."""

    name: str
    event_type: type[Event]
    function: PolicyFunction
    outside: bool = False
    locks: Locker | None = None
    ordered_by: Callable[[Event], object] | None = None
    aliases: tuple[str, ...] = ()
    relay_only: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """Every name its delivery rows may carry: its own, then its aliases."""
        return (self.name, *self.aliases)

    def __call__(self, event: Event):
        return self.function(event)

    def ordering_key(self, event: Event) -> str | None:
        """The key its delivery of ``event`` is ordered by (``ordered_by``),
        as stored; ``None`` when the policy declares none or the event has none."""
        if self.ordered_by is None:
            return None
        key = self.ordered_by(event)
        return None if key is None else str(key)


class OpenRows(StrEnum):
    """What a retirement does with its policy's open rows."""

    SETTLE = "settle"  # marked skipped, with the retirement as the reason: settled, nothing left to do
    DISCARD = "discard"  # marked discarded, as an operator's discard of a dead letter is


@dataclass(frozen=True)
class Retirement:
    """A policy removed from the code on purpose: its open rows are settled
    or discarded (``open_rows``), as the rows an older release still opens
    during a deploy will be, and its subscription is closed."""

    name: str
    open_rows: OpenRows

    @property
    def reason(self) -> str:
        """What its rows' ``last_error`` says (why they never ran)."""
        return f"policy {self.name} retired ({self.open_rows}): not run"


@dataclass(frozen=True)
class Projection:
    """A read model kept inline: the store runs its projector of an event's
    type inside the transaction that appends the event, right after the
    event's INSERT, with no delivery. The read model commits with the facts
    it is derived from, and a projector that raises fails the command (it is
    our code over our own rows, as the handler is). ``reset`` empties its
    rows, so that running every stored event of its types through its
    projectors rebuilds it; ``snapshot`` (optional) shows its figures, so a
    rebuild can say how many it changed. ``models`` (optional): the tables
    it keeps; with them a rebuild builds beside the live read model and
    swaps in once caught up (``features.rebuilds``). ``replay`` (optional):
    the projectors' effect over a batch of events in log order, in a few
    set-based statements; a rebuild replays with it into its own copies,
    instead of running each event through its projector."""

    name: str
    projectors: Mapping[type[Event], Projector]
    reset: Callable[[], None]
    snapshot: Callable[[], dict] | None = None
    models: tuple = ()
    replay: Callable[[list[Event]], None] | None = None


class Registry:
    def __init__(self):
        self.handlers: dict[type[Command], Handler] = {}
        self.commands: dict[str, type[Command]] = {}
        self.events: dict[str, type[Event]] = {}
        self.policies: dict[str, Policy] = {}
        self.aliases: dict[str, Policy] = {}
        self.retired: dict[str, Retirement] = {}
        self.subscriptions: dict[type[Event], list[Policy]] = {}
        self.upcasters: dict[tuple[str, int], Upcaster] = {}
        self.references: dict[str, Callable[[str], object]] = {}
        self.namers: dict[str, Namer] = {}
        self.invariants: list[Invariant] = []
        self.projections: dict[str, Projection] = {}
        self.projectors: dict[type[Event], list[Projector]] = {}
        self.refusals: dict[str, Refusal] = {}
        self.warnings: list[Invariant] = []
        self.mail_renderers: dict[str, MailRenderer] = {}
        self.mails_in_order: set[str] = set()
        self.personal_data_sections: dict[str, PersonalDataExport] = {}
        self.schedulable: set[type[Command]] = set()

    # --- registration -------------------------------------------------
    def register_handler(self, command_type: type[Command], handler: Handler) -> None:
        """Route ``command_type`` to ``handler``; a second route is an error."""
        if command_type in self.handlers:
            raise RegistryError(
                f"{command_type.__name__} already has a handler "
                f"({self.handlers[command_type].__qualname__}); one command, one handler"
            )
        self.handlers[command_type] = handler
        self.commands[command_type.type_name()] = command_type

    def register_events(self, *event_types: type[Event]) -> None:
        """Make event types readable back from the store by their name."""
        for event_type in event_types:
            name = event_type.type_name()
            if self.events.get(name, event_type) is not event_type:
                raise RegistryError(f"two event types are named {name!r}")
            self.events[name] = event_type
            if issubclass(event_type, Rejection):
                # The subject is the kernel's field on every rejection, so the
                # kernel upcasts what every rejection type stored before it.
                self.upcasters.setdefault((name, 1), rejection_with_empty_subject)

    def register_events_of(self, module: ModuleType) -> None:
        """Register every event type defined in ``module`` (an app's events.py)."""
        self.register_events(
            *(
                value
                for value in vars(module).values()
                if isinstance(value, type) and issubclass(value, Event) and value.__module__ == module.__name__
            )
        )

    def register_refusals(self, *declarations: type[Refusal]) -> None:
        """Make a context's refusal codes known (to the HTTP edge, the pages).

        A code is declared once in the whole product: the same code in two
        declarations, or twice in one (which ``Enum`` would quietly make an
        alias), is an error.
        """
        for declaration in declarations:
            for name, code in declaration.__members__.items():
                if code.name != name:
                    raise RegistryError(f"{declaration.__name__}.{name} repeats the code {code.value!r} of {code.name}")
                known = self.refusals.setdefault(code.value, code)
                if known is not code:
                    raise RegistryError(
                        f"the refusal code {code.value!r} is declared twice: "
                        f"{type(known).__name__}.{known.name} and {declaration.__name__}.{name}"
                    )

    def subscribe(
        self,
        event_type: type[Event],
        function: PolicyFunction,
        *,
        name: str | None = None,
        outside: bool = False,
        locks: Locker | None = None,
        ordered_by: Callable[[Event], object] | None = None,
        aliases: Iterable[str] = (),
        relay_only: bool = False,
    ) -> Policy:
        """Run ``function`` after every committed ``event_type``: exactly once
        each, in a transaction of its own; or, ``outside``, at least once and
        outside any transaction (it must not touch the database's rows).

        ``name`` is the policy's stable identity (default: the function's
        dotted path, which a rename of the function changes: give one).
        ``aliases`` are names it was registered under before: their rows
        are its own (``Policy``).

        With ``locks``, the rows its deliveries share with other deliveries
        are locked in key order before a relay batch runs them (``Policy``).
        With ``ordered_by``, its deliveries of one key run in event order.
        With ``relay_only``, never in the committing request (``Policy``)."""
        name = name or f"{function.__module__}.{function.__qualname__}"
        policy = Policy(name, event_type, function, outside, locks, ordered_by, tuple(aliases), relay_only)
        for taken in policy.names:
            if taken in self.policies or taken in self.aliases:
                raise RegistryError(f"policy {taken!r} is already subscribed (or an alias of one)")
            if taken in self.retired:
                raise RegistryError(f"policy {taken!r} is retired: a retired name is never used again")
        self.register_events(event_type)
        self.policies[policy.name] = policy
        for alias in policy.aliases:
            self.aliases[alias] = policy
        self.subscriptions.setdefault(event_type, []).append(policy)
        return policy

    def unsubscribe(self, policy: Policy) -> None:
        """Remove a policy (tests use this to clean up after themselves)."""
        del self.policies[policy.name]
        for alias in policy.aliases:
            del self.aliases[alias]
        self.subscriptions[policy.event_type].remove(policy)

    def retire(self, name: str, *, open_rows: str) -> Retirement:
        """Declare that the policy once registered as ``name`` is gone on
        purpose. Its open rows (those there now, and those a process of the
        previous release still opens during the deploy) are settled
        (``"settle"``: skipped, nothing left to do) or discarded
        (``"discard"``), with the retirement as the reason, and its
        subscription is closed: no sweep opens a delivery for it again
        (``subscriptions.apply_retirements``, run at ``migrate`` and by
        every sweep). Nothing is dead-lettered, nothing is left stranded."""
        if name in self.policies or name in self.aliases:
            raise RegistryError(f"policy {name!r} is still subscribed: unsubscribe it to retire it")
        if name in self.retired:
            raise RegistryError(f"policy {name!r} is already retired")
        try:
            retirement = Retirement(name, OpenRows(open_rows))
        except ValueError:
            choices = ", ".join(repr(choice.value) for choice in OpenRows)
            raise RegistryError(f"retire {name!r}: open_rows is one of {choices}, not {open_rows!r}") from None
        self.retired[name] = retirement
        return retirement

    def unretire(self, name: str) -> None:
        """Forget a retirement (tests use this to clean up after themselves)."""
        del self.retired[name]

    def register_schedulable(self, *command_types: type[Command]) -> None:
        """Allow ``command_types`` to wait for their time (``messaging.features.schedules``).

        A schedule keeps its command's payload in plain text until it runs,
        so a command with a field of a secret type (a value class declaring
        ``secret = True``: a password) may never wait: an error here."""
        for command_type in command_types:
            secrets = [name for name, annotation in field_types(command_type).items() if _holds_secret(annotation)]
            if secrets:
                raise RegistryError(f"{command_type.__name__} carries a secret ({', '.join(secrets)}): it cannot wait")
            self.schedulable.add(command_type)

    def require_schedulable(self, command_type: type[Command]) -> None:
        """``RegistryError`` unless ``command_type`` was registered as schedulable."""
        if command_type not in self.schedulable:
            raise RegistryError(f"{command_type.__name__} is not schedulable (registry.register_schedulable)")

    def register_upcaster(self, event_type: type[Event], from_version: int, upcaster: Upcaster) -> None:
        """Teach the store to rewrite a ``from_version`` payload into the next version."""
        key = (event_type.type_name(), from_version)
        if key in self.upcasters:
            raise RegistryError(f"{event_type.__name__} v{from_version} already has an upcaster")
        self.upcasters[key] = upcaster

    def register_reference(self, prefix: str, resolve: Callable[[str], object]) -> None:
        """Let people write ``<prefix>name`` for an id on the shell (``@alice``)."""
        if prefix in self.references:
            raise RegistryError(f"the reference prefix {prefix!r} is taken")
        self.references[prefix] = resolve

    def register_namer(self, kind: str, name: Namer) -> None:
        """Let the kernel's pages name a context's things (``kind``: "account",
        "book") beside their ids: ``name(ids)`` answers, in one query, the
        name of each of the ids that is one of them and leaves out the rest."""
        if kind in self.namers:
            raise RegistryError(f"{kind!r} already has a namer")
        self.namers[kind] = name

    def register_mail_renderer(self, name: str, render: MailRenderer, *, in_order: bool = False) -> None:
        """Let policies queue a mail by ``name`` (``outbox.QueueMail``) that
        ``render(recipient_id, about, params)`` addresses and writes only
        when it is sent: no address, name or secret (a reset link) is ever
        stored, and a person forgotten meanwhile gets nothing.

        ``in_order``: the mails of such renderers to one recipient about one
        thing (``about``: an order) are sent in the order they were queued; one
        waiting for its retry, or dead, holds back the later ones (the outbox's
        sending is ordered by that key, ``outbox.sending_order``)."""
        if name in self.mail_renderers:
            raise RegistryError(f"a mail renderer is already named {name!r}")
        self.mail_renderers[name] = render
        if in_order:
            self.mails_in_order.add(name)

    def register_personal_data(self, section: str, export: PersonalDataExport) -> None:
        """Let a person's export (``messaging.access.export``, the right of
        access) hold ``section``: what ``export(subject)`` answers of what a
        context keeps about the account ``subject`` (``None`` when it keeps nothing)."""
        if section in _RESERVED_SECTIONS:
            raise RegistryError(f"the export writes {section!r} itself: no section may take the name")
        if section in self.personal_data_sections:
            raise RegistryError(f"a personal data section is already named {section!r}")
        self.personal_data_sections[section] = export

    def register_projection(
        self,
        name: str,
        projectors: Mapping[type[Event], Projector],
        *,
        reset: Callable[[], None],
        snapshot: Callable[[], dict] | None = None,
        models: tuple = (),
        replay: Callable[[list[Event]], None] | None = None,
    ) -> Projection:
        """Keep the read model ``name`` inline: ``projectors[type(event)]``
        runs inside the transaction that appends each event of its type
        (``Projection``). ``reset`` empties it, and ``rebuild_projections``
        rebuilds it from the events (in batches through ``replay``, if given)."""
        if name in self.projections:
            raise RegistryError(f"a projection is already named {name!r}")
        if not projectors:
            raise RegistryError(f"projection {name!r} projects no event type")
        self.register_events(*projectors)
        projection = Projection(name, dict(projectors), reset, snapshot, tuple(models), replay)
        self.projections[name] = projection
        for event_type, project in projection.projectors.items():
            self.projectors.setdefault(event_type, []).append(project)
        return projection

    def register_invariant(self, check: Invariant) -> None:
        """Add a consistency rule for ``check_invariants``: ``check()`` yields
        one line per violation, nothing when the rule holds."""
        self.invariants.append(check)

    def register_warning(self, check: Invariant) -> None:
        """Add a check whose findings ``check_invariants`` reports as warnings
        without failing: states the rules allow but an operator should see
        (``check()`` yields one line per finding)."""
        self.warnings.append(check)

    # --- lookup -------------------------------------------------------
    def handler_for(self, command: Command) -> Handler:
        try:
            return self.handlers[type(command)]
        except KeyError:
            raise UnknownCommand(type(command).__name__, self.commands) from None

    def command_type(self, name: str) -> type[Command]:
        try:
            return self.commands[name]
        except KeyError:
            raise UnknownCommand(name, self.commands) from None

    def refusal(self, code: str) -> Refusal:
        """The declaration of a rejection's ``code`` (a member or, read back
        from the store, its text); ``RegistryError`` if none declares it."""
        try:
            return self.refusals[code]
        except KeyError:
            raise RegistryError(f"no context declares the refusal code {code!r}") from None

    def policy(self, name: str) -> Policy:
        """The policy whose rows carry ``name``: its own or one of its
        aliases; ``KeyError`` when no policy of this process answers to it."""
        found = self.policies.get(name) or self.aliases.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def knowledge(self) -> dict[str, int]:
        """What this process can run: each name its policies answer to, with
        the newest version of the policy's event type it reads (a row of an
        event stored in a later version is another release's)."""
        return {name: policy.event_type.version for policy in self.policies.values() for name in policy.names}

    def policies_for(self, event: Event) -> list[Policy]:
        return self.subscriptions.get(type(event), [])

    def projectors_for(self, event: Event) -> list[Projector]:
        """The projectors to run on ``event`` in the transaction appending it."""
        return self.projectors.get(type(event), [])

    def resolve_reference(self, text: str):
        """The id ``text`` names, or ``text`` itself when it is no reference.

        A reference that names nothing raises ``LookupError``.
        """
        for prefix, resolve in self.references.items():
            if text.startswith(prefix):
                return resolve(text.removeprefix(prefix))
        return text

    def names(self, ids: set[UUID]) -> dict[UUID, str]:
        """The name of each of ``ids`` some context knows (a username, a
        book's title): one query per namer, none when there are no ids."""
        named: dict[UUID, str] = {}
        if not ids:
            return named
        for name in self.namers.values():
            named.update(name(ids))
        return named

    def upcast(self, type_name: str, version: int, payload: dict) -> dict:
        """Bring a stored payload up to the event type's current version."""
        current = self.events[type_name].version
        while version < current:
            payload = self.upcasters[(type_name, version)](payload)
            version += 1
        return payload


def _holds_secret(annotation) -> bool:
    """Whether a field's type is, or holds (``X | None``, ``tuple[X, ...]``), a secret value type."""
    if getattr(annotation, "secret", False) is True:
        return True
    return any(_holds_secret(argument) for argument in typing.get_args(annotation))


registry = Registry()
