"""One row by its primary key, read, locked or updated with SQL built once.

The repositories' hottest statements are the simplest: fetch (and lock)
one row by its key, write back the columns a rule changed. The ORM compiles
each anew (its filter, its ``ORDER BY`` for ``first()``, its ``save``) at a
cost several times that of running it; here each statement is built once
per model, columns and backend, its values prepared as their fields would
prepare them, its results converted as the ORM would convert them, so the
instances are the ORM's own (``Model.from_db``) and save, compare and
refresh like any. The event store's INSERTs prepare their values here too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from uuid import UUID

from django.db import DatabaseError, connection
from django.db.models import Model


def preparer(field) -> Callable[[object], object]:
    """A column's value as ``field.get_db_prep_save`` makes it, with the
    common values (a str, a bool, an int, a UUID, an aware datetime, a dict)
    prepared directly: the field's own path runs a dozen calls for each."""
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()

    def prepare(value):
        return field.get_db_prep_save(value, connection)

    if kind in ("CharField", "TextField"):
        return lambda value: value if type(value) is str else prepare(value)
    if kind == "BooleanField":
        return lambda value: value if type(value) is bool else prepare(value)
    if kind in (
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "IntegerField",
        "BigIntegerField",
    ):
        return lambda value: value if type(value) is int else prepare(value)
    if kind == "UUIDField":
        if connection.features.has_native_uuid_field:
            return lambda value: value if type(value) is UUID else prepare(value)
        return lambda value: value.hex if type(value) is UUID else prepare(value)
    if kind == "DateTimeField":
        return lambda value: (
            connection.ops.adapt_datetimefield_value(value)
            if type(value) is datetime and value.tzinfo
            else prepare(value)
        )
    if kind == "JSONField":
        return lambda value: (
            connection.ops.adapt_json_value(value, target.encoder) if type(value) is dict else prepare(value)
        )
    return prepare


@dataclass(frozen=True)
class _Columns:
    """A model's columns as one SELECT lists them, and how to build its
    instance from them."""

    model: type
    sql: str
    attnames: tuple[str, ...]
    converters: tuple  # (column index, expression, its converters), for the columns that have any

    def build(self, values: list) -> Model:
        for index, column, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


def _columns(model: type[Model]) -> _Columns:
    meta, quote = model._meta, connection.ops.quote_name
    fields = meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, tuple(found)))
    return _Columns(
        model,
        ", ".join(f"{quote(meta.db_table)}.{quote(field.column)}" for field in fields),
        tuple(field.attname for field in fields),
        tuple(converters),
    )


@dataclass(frozen=True)
class _Select:
    sql: str
    columns: tuple[_Columns, ...]  # the row's, then its related row's
    prepare_key: Callable[[object], object]


@cache
def _select(model: type[Model], lock: bool, related: str | None, vendor: str) -> _Select:
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [_columns(model)]
    joined = ""
    if related is not None:
        link = meta.get_field(related)
        columns.append(_columns(link.related_model))
        other = link.related_model._meta
        joined = (
            f" INNER JOIN {quote(other.db_table)} ON {table}.{quote(link.column)} "
            f"= {quote(other.db_table)}.{quote(link.target_field.column)}"
        )
    sql = (
        f"SELECT {', '.join(part.sql for part in columns)} FROM {table}{joined} "
        f"WHERE {table}.{quote(meta.pk.column)} = %s"
    )
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return _Select(sql, tuple(columns), preparer(meta.pk))


def get(model: type[Model], key, *, lock: bool = False, related: str | None = None) -> Model | None:
    """The row of ``model`` whose primary key is ``key``, or ``None``; with
    ``lock``, its row locked until the transaction ends (where the database
    has row locks: SQLite's writes are serialised anyway); with ``related``
    (a required foreign key's name), the row it refers to read in the same
    query and cached on the instance, as ``select_related`` does."""
    statement = _select(model, lock, related, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [statement.prepare_key(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    first = statement.columns[0]
    instance = first.build(list(row[: len(first.attnames)]))
    if related is not None:
        setattr(instance, related, statement.columns[1].build(list(row[len(first.attnames) :])))
    return instance


@cache
def _select_many(model: type[Model], count: int, lock: bool, vendor: str) -> tuple[str, _Columns, Callable]:
    meta, quote = model._meta, connection.ops.quote_name
    table, columns = quote(meta.db_table), _columns(model)
    key = f"{table}.{quote(meta.pk.column)}"
    sql = f"SELECT {columns.sql} FROM {table} WHERE {key} IN ({', '.join(['%s'] * count)}) ORDER BY {key}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql, columns, preparer(meta.pk)


def get_many(model: type[Model], keys: list, *, lock: bool = False) -> dict:
    """The rows of ``model`` whose primary keys are among ``keys`` (a few:
    one statement is built per count), by key; with ``lock``, locked in key
    order, so that two transactions locking overlapping sets queue instead of
    deadlocking."""
    sql, columns, prepare_key = _select_many(model, len(keys), lock, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [prepare_key(key) for key in keys])
        found = cursor.fetchall()
    return {instance.pk: instance for instance in (columns.build(list(row)) for row in found)}


@cache
def _find(model: type[Model], names: tuple[str, ...], order_by: str, lock: bool, vendor: str):
    meta, quote = model._meta, connection.ops.quote_name
    table, columns = quote(meta.db_table), _columns(model)
    fields = [meta.get_field(name) for name in names]
    where = " AND ".join(f"{table}.{quote(field.column)} = %s" for field in fields)
    ordered = meta.pk if order_by == "pk" else meta.get_field(order_by)
    sql = f"SELECT {columns.sql} FROM {table} WHERE {where} ORDER BY {table}.{quote(ordered.column)}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql, columns, tuple(preparer(field) for field in fields)


def find(model: type[Model], *, order_by: str = "pk", lock: bool = False, **equal) -> list:
    """The rows of ``model`` whose columns equal ``equal`` (field names:
    ``order_id=...``), ordered by ``order_by``; with ``lock``, locked in that
    order."""
    names = tuple(equal)
    sql, columns, prepare = _find(model, names, order_by, lock, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [convert(equal[name]) for name, convert in zip(names, prepare, strict=True)])
        found = cursor.fetchall()
    return [columns.build(list(row)) for row in found]


@dataclass(frozen=True)
class _Update:
    sql: str
    fields: tuple
    prepare: tuple
    prepare_key: Callable[[object], object]


@cache
def _update(model: type[Model], names: tuple[str, ...], vendor: str) -> _Update:
    meta, quote = model._meta, connection.ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return _Update(
        sql=f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",
        fields=fields,
        prepare=tuple(preparer(field) for field in fields),
        prepare_key=preparer(meta.pk),
    )


def save(instance: Model, *names: str) -> None:
    """Write ``names`` of a row that exists, as ``save(update_fields=names)``
    does (each field's ``pre_save`` included, so ``auto_now`` moves), with
    no signal sent: the repositories' rows have no receivers. A row that is
    gone is an error, as it is for ``save``."""
    statement = _update(type(instance), names, connection.vendor)
    values = [field.pre_save(instance, False) for field in statement.fields]
    params = [
        None if value is None else prepare(value) for value, prepare in zip(values, statement.prepare, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [*params, statement.prepare_key(instance.pk)])
        if cursor.rowcount != 1:
            raise DatabaseError(f"{type(instance).__name__} {instance.pk} is gone: nothing was saved")
