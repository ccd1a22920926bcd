import dataclasses
import json
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from messaging import bus
from messaging.messages import COMMAND_METADATA
from messaging.models import StoredEvent
from messaging.registry import UnknownCommand, registry
from messaging.serialization import field_types, from_primitive, required_fields


class Command(BaseCommand):
    help = (
        "Dispatch any registered command through the bus and print each resulting event "
        "(policies' consequences included) as one JSON line. Values are text, or JSON for "
        "numbers, lists and objects; an id may be given by reference, such as @alice for an account: "
        "send_command FollowAccount follower_id=@alice followee_id=@bob. "
        "Exit status: 0 done, 1 refused (code and reason on stderr), 2 unknown command or bad input."
    )

    def add_arguments(self, parser):
        parser.add_argument("command_name", help="The command's type, e.g. RegisterAccount.")
        parser.add_argument("fields", nargs="*", metavar="field=value", help="The command's fields.")
        parser.add_argument("--actor", help="Id (or @username) of the account acting (default: none, an operator).")
        parser.add_argument("--correlation-id", help="Correlation id to use (default: the command's id).")
        parser.add_argument("--idempotency-key", help="Idempotency key: a repeat with the same key is replayed.")

    def handle(self, *args, command_name, fields, actor, correlation_id, idempotency_key, **options):
        try:
            command_type = registry.command_type(command_name)
        except UnknownCommand as error:
            raise CommandError(str(error), returncode=2) from None
        command = self._build(
            command_type, fields, actor=actor, correlation_id=correlation_id, idempotency_key=idempotency_key
        )

        result = bus.dispatch(command)

        for row in self._resulting_events(result):
            self.stdout.write(json.dumps(_as_json(row)))
        if result.rejection:
            raise CommandError(f"refused: {result.rejection.code}: {result.rejection.reason}", returncode=1)
        if not result.events:
            self.stderr.write("no change: it was already so")

    def _build(self, command_type, fields, **metadata):
        hints = field_types(command_type)
        own = {f.name: f for f in dataclasses.fields(command_type) if f.name not in COMMAND_METADATA}
        values = {}
        for item in fields:
            name, sep, raw = item.partition("=")
            if not sep:
                raise CommandError(f"expected field=value, got {item!r}", returncode=2)
            if name not in own:
                raise CommandError(
                    f"{command_type.__name__} has no field {name!r}; its fields: {', '.join(own)}", returncode=2
                )
            values[name] = self._parse(hints[name], name, raw)
        missing = [name for name in required_fields(command_type) if name in own and name not in values]
        if missing:
            raise CommandError(f"{command_type.__name__} needs: {', '.join(missing)}", returncode=2)
        for name, raw in (("actor_id", metadata["actor"]), ("correlation_id", metadata["correlation_id"])):
            if raw:
                values[name] = self._parse(UUID, name, raw)
        if metadata["idempotency_key"]:
            values["idempotency_key"] = metadata["idempotency_key"]
        return command_type(**values)

    @staticmethod
    def _parse(annotation, name, raw):
        try:
            raw = registry.resolve_reference(raw)
        except LookupError as error:
            raise CommandError(f"{name}: {error}", returncode=2) from None
        try:
            # parse_float: 12.50 on the shell means exactly 12.50, never a float
            value = json.loads(raw, parse_float=Decimal) if annotation is not str and isinstance(raw, str) else raw
        except json.JSONDecodeError:
            value = raw
        try:
            return from_primitive(annotation, value)
        except ValidationError as error:
            raise CommandError(f"{name}: {' '.join(error.messages)}", returncode=2) from None

    @staticmethod
    def _resulting_events(result):
        """The command's own events, then whatever its policies went on to store."""
        if not result.events:
            return []
        first = StoredEvent.objects.get(event_id=result.events[0].event_id)
        return StoredEvent.objects.filter(correlation_id=first.correlation_id, position__gte=first.position)


def _as_json(row: StoredEvent) -> dict:
    return {
        "type": row.type,
        "version": row.version,
        "event_id": str(row.event_id),
        "payload": row.payload,
        "command_id": str(row.command_id),
        "correlation_id": str(row.correlation_id),
        "causation_id": str(row.causation_id) if row.causation_id else None,
    }
