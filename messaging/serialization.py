"""Turning messages into JSON primitives and back, guided by type hints.

Events are stored as JSON and commands arrive as text from the shell, so
both directions are driven by the dataclass's annotations: a field typed
``UUID`` is written as a string and read back as a ``UUID``, a value object
writes itself with ``to_primitive()`` and reads itself with
``from_primitive()``. Anything else is a programming error and fails where
the message is made, not later in the event store.
"""

import dataclasses
import types
import typing
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from uuid import UUID

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

_SCALARS = (str, int, bool, type(None))


def to_primitive(value):
    """Return ``value`` as JSON-ready primitives (str, int, bool, None, list, dict)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_primitive"):
        return value.to_primitive()
    if dataclasses.is_dataclass(value):
        return {f.name: to_primitive(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_primitive(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_primitive(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} cannot be stored in a message: {value!r}")


@cache
def field_types(cls) -> dict[str, typing.Any]:
    """The resolved annotations of a dataclass (cached: classes do not change)."""
    return typing.get_type_hints(cls)


def from_primitive(annotation, value):
    """Rebuild a value of type ``annotation`` from primitives.

    Raises ``ValidationError`` with a readable message when ``value`` does
    not fit, so callers facing users (the shell, the API) can show it.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        annotation = next(option for option in options if option is not type(None))
        return from_primitive(annotation, value)
    if origin in (list, tuple):
        (item_type, *_) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ValidationError(f"expected a list, got {value!r}")
        return origin(from_primitive(item_type, item) for item in value)
    if origin is dict:
        key_type, item_type = typing.get_args(annotation)
        if not isinstance(value, dict):
            raise ValidationError(f"expected an object, got {value!r}")
        return {from_primitive(key_type, key): from_primitive(item_type, item) for key, item in value.items()}
    if annotation is typing.Any:
        return value
    if hasattr(annotation, "from_primitive"):
        return annotation.from_primitive(value)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ValidationError(f"expected an object for {annotation.__name__}, got {value!r}")
        return build(annotation, value)
    return _scalar(annotation, value)


def build(cls, data: dict):
    """Instantiate dataclass ``cls`` from a dict of primitives, field by field."""
    hints = field_types(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - names
    if unknown:
        raise ValidationError(f"unknown field(s) for {cls.__name__}: {', '.join(sorted(unknown))}")
    missing = [name for name in required_fields(cls) if name not in data]
    if missing:
        raise ValidationError(f"{cls.__name__} needs: {', '.join(missing)}")
    return cls(**{name: from_primitive(hints[name], raw) for name, raw in data.items()})


def required_fields(cls) -> list[str]:
    """The fields of dataclass ``cls`` that have no default."""
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _scalar(annotation, value):
    try:
        if annotation is UUID:
            return value if isinstance(value, UUID) else UUID(str(value))
        if annotation is Decimal:
            number = Decimal(str(value))
            if not number.is_finite():
                raise ValueError
            return number
        if annotation is datetime:
            parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
            if parsed is None:
                raise ValueError
            return parsed
        if annotation is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if annotation is int:
            number = int(value)
            if isinstance(value, bool) or (not isinstance(value, str) and number != value):
                raise ValueError  # True is no count, and 2.5 is not 2
            return number
        if annotation is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError, OverflowError, InvalidOperation, AttributeError):
        name = getattr(annotation, "__name__", str(annotation))
        raise ValidationError(f"{value!r} is not a valid {name}") from None
    raise TypeError(f"no conversion for {annotation!r}")


def parse_uuid(text: str | None) -> UUID | None:
    """``text`` as a UUID, or ``None`` when it is not one."""
    if not text or len(text) > 45:
        return None
    try:
        return UUID(text)
    except ValueError:
        return None
