import dataclasses
import json
import types
import typing
from argparse import RawDescriptionHelpFormatter
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from messaging import bus
from messaging.messages import COMMAND_METADATA
from messaging.models import StoredEvent
from messaging.personal import opened_rows
from messaging.registry import UnknownCommand, registry
from messaging.serialization import field_types, from_primitive, required_fields


class Command(BaseCommand):
    help = (
        "Dispatch any registered command through the bus and print each resulting event\n"
        "(policies' consequences included) as one JSON line. Values are text, or JSON for\n"
        "numbers, lists and objects; options may come anywhere on the line. Wherever an id is\n"
        "expected, inside JSON too, it may be given by reference: @username for an account,\n"
        "isbn:<ISBN> for a book.\n"
        "Exit status: 0 done, 1 refused (code and reason on stderr), 2 unknown command or bad input."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        """Django's parser, reading options anywhere among the fields (as a
        person types them), its help keeping this command's line breaks and
        ending with every registered command, its fields and examples."""
        kwargs.setdefault("formatter_class", _HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _IntermixedParser
        parser.epilog = _commands_help()
        return parser

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

        for row in opened_rows(list(self._resulting_events(result))):
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
            # parse_float: 12.50 on the shell means exactly 12.50, never a float
            value = json.loads(raw, parse_float=Decimal) if annotation is not str else raw
        except json.JSONDecodeError:
            value = raw
        try:
            return from_primitive(annotation, _resolve_references(annotation, value))
        except LookupError as error:
            raise CommandError(f"{name}: {error}", returncode=2) from None
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


class _IntermixedParser(CommandParser):
    """Options anywhere: ``PlaceOrder --actor @alice items=[...]`` as well as
    ``PlaceOrder items=[...] --actor @alice`` (plain parse_args would take
    the fields after an option for unrecognized arguments)."""

    def parse_args(self, args=None, namespace=None):
        return self.parse_intermixed_args(args, namespace)


class _HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's option order, with the description and list of commands as written."""


def _non_optional(annotation):
    """``X`` for ``X | None``; anything else as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _resolve_references(annotation, value):
    """``value`` with each reference (``@alice``, ``isbn:...``) replaced by
    the id it names, wherever ``annotation`` expects an id (a ``UUID``), at
    any depth of lists and nested messages; text fields are left as typed.
    A reference that names nothing raises ``LookupError``."""
    annotation = _non_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation is UUID:
        return registry.resolve_reference(value) if isinstance(value, str) else value
    if origin in (list, tuple) and isinstance(value, list):
        (item_type, *_) = typing.get_args(annotation)
        return [_resolve_references(item_type, item) for item in value]
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        hints = field_types(annotation)
        return {key: _resolve_references(hints[key], item) if key in hints else item for key, item in value.items()}
    return value


def _describe(annotation) -> str:
    """How a person writes a value of this type on the line."""
    annotation = _non_optional(annotation)
    if annotation is UUID:
        return "id"
    if typing.get_origin(annotation) in (list, tuple):
        (item_type, *_) = typing.get_args(annotation)
        return f"[{_describe(item_type)}, ...]"
    if dataclasses.is_dataclass(annotation) and not hasattr(annotation, "from_primitive"):
        hints = field_types(annotation)
        return "{" + ", ".join(f'"{f.name}": {_describe(hints[f.name])}' for f in dataclasses.fields(annotation)) + "}"
    return {str: "text", int: "number", Decimal: "decimal", bool: "true|false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _field_help(name: str, annotation, *, required: bool) -> str:
    text = f"{name}=<{_describe(annotation)}>"
    return text if required else f"[{text}]"


def _commands_help() -> str:
    """Every registered command with its fields (optional ones in brackets), then examples."""
    lines = ["commands and their fields:"]
    for name, command_type in sorted(registry.commands.items()):
        hints = field_types(command_type)
        required = set(required_fields(command_type))
        fields = [
            _field_help(f.name, hints[f.name], required=f.name in required)
            for f in dataclasses.fields(command_type)
            if f.name not in COMMAND_METADATA
        ]
        lines.append(f"  {name} {' '.join(fields)}".rstrip())
    lines += [
        "",
        "examples:",
        "  send_command RegisterAccount email=alice@example.com username=alice password='a long secret'",
        "  send_command FollowAccount follower_id=@alice followee_id=@bob",
        '  send_command PlaceOrder --actor @alice items=\'[{"book_id": "isbn:9780743273565", "quantity": 2}]\'',
    ]
    return "\n".join(lines)
