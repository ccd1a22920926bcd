"""Two releases of one product, for the rolling-deploy rehearsal
(``tests/reliability/test_two_releases.py``): each process runs the project
plus the rehearsal's wiring of release A or of release B.

    python -m tests.support.releases A migrate
    python -m tests.support.releases B relay_events --loop --interval 0.2
    python -m tests.support.releases A send 20 before-   # the web: 20 commands

Release A: ``Rehearse`` stores ``Rehearsed`` v1, and three policies react:
``rehearsal.count`` (a database effect), ``rehearsal.mail_confirmation``
(queues a mail) and ``rehearsal.mail_shipment`` (a database effect).
Release B = A with the mail policy renamed (``rehearsal.confirm_by_mail``,
aliased to its old name), ``rehearsal.mail_shipment`` retired (its open
rows settled), ``rehearsal.added`` new, and ``Rehearsed`` upgraded to v2
(a ``channel`` field, with an upcaster). Every effect is an
``EffectRecorded`` event naming its source event, so a test counts them.
"""

import os
import sys
from dataclasses import dataclass
from typing import ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

COUNT, MAIL_OLD, MAIL_NEW, RETIRED, ADDED = (
    "rehearsal.count",
    "rehearsal.mail_confirmation",
    "rehearsal.confirm_by_mail",
    "rehearsal.mail_shipment",
    "rehearsal.added",
)
RENDERER = "rehearsal.confirmation"


def _types():
    """The rehearsal's messages (defined once Django is set up)."""
    from messaging.messages import Command, Event

    @dataclass(frozen=True, kw_only=True)
    class Rehearse(Command):
        mark: str

    @dataclass(frozen=True, kw_only=True)
    class RehearsedV1(Event):
        mark: str

        @classmethod
        def type_name(cls) -> str:
            return "Rehearsed"

    @dataclass(frozen=True, kw_only=True)
    class RehearsedV2(Event):
        version: ClassVar[int] = 2
        mark: str
        channel: str

        @classmethod
        def type_name(cls) -> str:
            return "Rehearsed"

    @dataclass(frozen=True, kw_only=True)
    class RecordEffect(Command):
        source_event_id: UUID
        effect: str

    @dataclass(frozen=True, kw_only=True)
    class EffectRecorded(Event):
        source_event_id: UUID
        effect: str

    return Rehearse, RehearsedV1, RehearsedV2, RecordEffect, EffectRecorded


def recipient(mark: str) -> UUID:
    """The account a rehearsal mail is for (made up, one per mark)."""
    return uuid5(NAMESPACE_URL, f"rehearsal:{mark}")


def wire(release: str) -> None:
    """Add release ``release``'s rehearsal wiring to the project's registry."""
    from messaging.features import outbox
    from messaging.registry import registry

    rehearse, v1, v2, record, recorded = _types()
    registry.register_handler(record, lambda command: [recorded(**_fields(command, "source_event_id", "effect"))])
    registry.register_events(recorded)
    registry.register_mail_renderer(
        RENDERER,
        lambda to, about, params: outbox.Mail(
            to=f"{params['mark']}@example.com", subject=f"confirmation {params['mark']}", body="thank you"
        ),
    )

    def effect(name):
        return lambda event: [record(source_event_id=event.event_id, effect=name)]

    def mail(event):
        return [outbox.QueueMail(recipient_id=recipient(event.mark), renderer=RENDERER, params={"mark": event.mark})]

    if release == "A":
        registry.register_handler(rehearse, lambda command: [v1(mark=command.mark)])
        registry.subscribe(v1, effect("count"), name=COUNT)
        registry.subscribe(v1, mail, name=MAIL_OLD)
        registry.subscribe(v1, effect("shipment"), name=RETIRED)
    else:
        registry.register_handler(rehearse, lambda command: [v2(mark=command.mark, channel="b")])
        registry.register_upcaster(v2, 1, lambda payload: {**payload, "channel": "a"})
        registry.subscribe(v2, effect("count"), name=COUNT)
        registry.subscribe(v2, mail, name=MAIL_NEW, aliases=(MAIL_OLD,))
        registry.retire(RETIRED, open_rows="settle")
        registry.subscribe(v2, effect("added"), name=ADDED)


def _fields(command, *names) -> dict:
    return {name: getattr(command, name) for name in names}


def send(release: str, count: int, prefix: str) -> None:
    """Play release ``release``'s web: ``count`` commands, one transaction each."""
    from messaging import bus
    from messaging.registry import registry

    rehearse = registry.command_type("Rehearse")
    for number in range(count):
        bus.dispatch(rehearse(mark=f"{prefix}{number}"))
    print(f"release {release} sent {count}")


def main(argv: list[str]) -> int:
    release, *rest = argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    wire(release)
    settings.MESSAGING_SUBSCRIPTION_SWEEP_SECONDS = float(os.environ.get("REHEARSAL_SWEEP_SECONDS", "60"))
    if rest[0] == "send":
        send(release, int(rest[1]), rest[2])
        return 0
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
