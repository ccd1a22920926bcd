"""The event catalogue: every event type the registry can read back from
the store, its version, the versions it upcasts from, and the fields of its
payload (their types, which have a default, which are personal data and
whose), as plain values and as the YAML committed at ``docs/events.yaml``.

A field holding a dataclass of our own without a written form of its own
(``OrderedItem``) is listed with its parts (``items[].book_id``), since its
parts are stored; a value object that writes itself (``to_primitive``:
``Money``, ``Isbn``) is listed by its name, its written form being its own
business (and its tests'). ``event_compatibility.breaks`` compares two
catalogues; ``manage.py event_catalogue`` writes and checks the file.
"""

import dataclasses
import types
import typing
from pathlib import Path

import yaml
from django.conf import settings

from ..messages import EVENT_METADATA
from ..personal import declared
from ..registry import Registry, registry
from ..serialization import field_types

PATH = Path("docs") / "events.yaml"
"""Where the committed catalogue lives, from the project's root."""

_HEADER = """\
# Every event type the store holds, its version, the versions its upcasters
# read, and its payload's fields: their types, `optional` (has a default),
# `personal_of` (personal data, sealed under that field's person's key).
# Generated: `manage.py event_catalogue --write`. Checked by scripts/test:
# `manage.py event_catalogue --check` fails when the code differs from it,
# and names every change the release before could not read
# (docs/operations.md, "Changing an event").
"""


def committed_path() -> Path:
    """The committed catalogue's file in this checkout."""
    return Path(settings.BASE_DIR) / PATH


def catalogue(source: Registry = registry) -> dict:
    """The catalogue of every event type ``source`` registered, by name."""
    upcasts: dict[str, list[int]] = {}
    for name, version in source.upcasters:
        upcasts.setdefault(name, []).append(version)
    return {
        "events": {
            name: {
                "module": event_type.__module__,
                "version": event_type.version,
                "upcasts_from": sorted(upcasts.get(name, [])),
                "fields": _fields(event_type),
            }
            for name, event_type in sorted(source.events.items())
        }
    }


def render(described: dict) -> str:
    """The catalogue as the committed YAML (its header included)."""
    return _HEADER + yaml.safe_dump(described, sort_keys=False, default_flow_style=None, width=120)


def parse(text: str) -> dict:
    """A catalogue read back from its YAML; ``ValueError`` when it is none."""
    try:
        described = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"not YAML: {error}") from None
    if not isinstance(described, dict) or not isinstance(described.get("events"), dict):
        raise ValueError("not an event catalogue (no 'events' mapping)")
    return described


def _fields(cls, prefix: str = "") -> dict:
    hints = field_types(cls)
    personal = declared(cls)
    fields = {}
    for field in sorted(dataclasses.fields(cls), key=lambda f: f.name):
        if field.name in EVENT_METADATA:
            continue
        path = prefix + field.name
        entry: dict = {"type": _type_name(hints[field.name])}
        if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
            entry["optional"] = True
        if field.name in personal:
            entry["personal_of"] = personal[field.name].subject
        fields[path] = entry
        fields.update(_parts(hints[field.name], path))
    return fields


def _parts(annotation, path: str) -> dict:
    """The stored parts of a field holding dataclasses of our own."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = {}
        for option in typing.get_args(annotation):
            parts.update(_parts(option, path))
        return parts
    if origin in (list, tuple):
        return _parts(typing.get_args(annotation)[0], path + "[]")
    if origin is dict:
        return _parts(typing.get_args(annotation)[1], path + "[]")
    if dataclasses.is_dataclass(annotation) and not hasattr(annotation, "to_primitive"):
        return _fields(annotation, path + ".")
    return {}


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(option) for option in arguments)
    if origin in (list, tuple):
        return f"list[{_type_name(arguments[0])}]"
    if origin is dict:
        return f"dict[{_type_name(arguments[0])}, {_type_name(arguments[1])}]"
    if annotation is typing.Any:
        return "Any"
    if annotation is type(None):
        return "None"
    return annotation.__name__
