"""Every statement the kernel builds itself, each built once per process and
backend: the pattern, and the only module that writes SQL text.

ORM first: a statement is built here only where the ORM's compiling it cost
more than running it on a hot path (a line in docs/performance.md says
which), and a test checks its result against the ORM's. Values are prepared
as their fields would prepare them; hand-written statements name their
parameters (``%(name)s``). See docs/architecture.md, "The kernel's floors".
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from uuid import UUID

from django.db import DatabaseError, connection
from django.db.models import DurationField, Model, Value
from django.db.models.functions import Now
from django.utils import timezone

from .models import Delivery

ROWS_PER_STATEMENT = 500


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


# --- The database's clock ------------------------------------------------
# Every due time, retry time and lease is the database's: hosts' clocks
# differ, and a row written by one host is compared by another (docs/
# operations.md, "One clock").


@cache
def _now_sql(vendor: str) -> str:
    """The database's now as SQL (Django's ``Now()``: ``STATEMENT_TIMESTAMP()``
    on PostgreSQL, the millisecond on SQLite), ``%`` escaped for a cursor."""
    sql, params = Delivery.objects.none().query.get_compiler(connection=connection).compile(Now())
    assert not params
    return sql


def now_sql() -> str:
    """The database's now, for a statement built here."""
    return _now_sql(connection.vendor)


@cache
def _later_sql(vendor: str) -> str:
    """The database's now plus a duration, its one parameter prepared as a
    ``DurationField``'s (Django's ``Now() + duration``)."""
    query = Delivery.objects.none().query
    later = (Now() + Value(timedelta(0), output_field=DurationField())).resolve_expression(query)
    sql, params = query.get_compiler(connection=connection).compile(later)
    assert len(params) == 1
    return sql


def database_now() -> datetime:
    """Now by the database's clock, read once (one round trip): for a time
    the application needs as a value rather than in a statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {now_sql()}", [])  # with parameters, so "%%" reads as "%"
        (value,) = cursor.fetchone()
    if isinstance(value, str):  # SQLite: text, in UTC
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- Rows by primary key, read, locked or updated -------------------------
# The repositories' hottest statements: the ORM compiles each anew at several
# times the cost of running it. Here each is built once per model, columns and
# backend, and hands back the ORM's own instances (``Model.from_db``).


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


def _joined(model: type[Model], related: str | None) -> tuple[list[_Columns], str]:
    """The columns of ``model`` (and of the row its foreign key ``related``
    refers to), and the JOIN that reads the latter."""
    meta, quote = model._meta, connection.ops.quote_name
    columns = [_columns(model)]
    if related is None:
        return columns, ""
    link = meta.get_field(related)
    columns.append(_columns(link.related_model))
    other = link.related_model._meta
    joined = (
        f" INNER JOIN {quote(other.db_table)} ON {quote(meta.db_table)}.{quote(link.column)} "
        f"= {quote(other.db_table)}.{quote(link.target_field.column)}"
    )
    return columns, joined


def _built(columns: tuple[_Columns, ...], related: str | None, row) -> Model:
    first = columns[0]
    instance = first.build(list(row[: len(first.attnames)]))
    if related is not None:
        setattr(instance, related, columns[1].build(list(row[len(first.attnames) :])))
    return instance


@cache
def _select(model: type[Model], lock: bool, related: str | None, vendor: str) -> _Select:
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    columns, joined = _joined(model, related)
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
    return None if row is None else _built(statement.columns, related, row)


@cache
def _select_many(model: type[Model], count: int, lock: bool, related: str | None, vendor: str) -> _Select:
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    columns, joined = _joined(model, related)
    key = f"{table}.{quote(meta.pk.column)}"
    sql = (
        f"SELECT {', '.join(part.sql for part in columns)} FROM {table}{joined} "
        f"WHERE {key} IN ({', '.join(['%s'] * count)}) ORDER BY {key}"
    )
    if lock and connection.features.has_select_for_update:
        # only this model's rows: the related rows are read, not locked
        sql += f" FOR UPDATE OF {table}" if related and connection.features.has_select_for_update_of else " FOR UPDATE"
    return _Select(sql, tuple(columns), preparer(meta.pk))


def get_many(model: type[Model], keys: list, *, lock: bool = False, related: str | None = None) -> dict:
    """The rows of ``model`` whose primary keys are among ``keys`` (a few:
    one statement is built per count), by key, in key order; with ``lock``,
    locked in key order, so that two transactions locking overlapping sets
    queue instead of deadlocking; with ``related`` (a required foreign key's
    name), the rows they refer to read in the same query (not locked)."""
    statement = _select_many(model, len(keys), lock, related, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [statement.prepare_key(key) for key in keys])
        found = cursor.fetchall()
    return {instance.pk: instance for instance in (_built(statement.columns, related, row) for row in found)}


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


# --- INSERTs of many rows (the event store) ------------------------------


@cache
def _fields(model, names: tuple[str, ...]):
    return [model._meta.get_field(name) for name in names]


@dataclass(frozen=True)
class _Insert:
    """An INSERT of some of a model's columns, built once per process and
    backend: its SQL head and tail, and how each column's value is prepared."""

    head: str
    row: str
    tail: str
    fields: tuple
    prepare: tuple

    def sql(self, rows: int) -> str:
        return self.head + ", ".join([self.row] * rows) + self.tail


@cache
def _statement(
    model,
    names: tuple[str, ...],
    returning: tuple[str, ...],
    vendor: str,
    skip_existing: bool = False,
    now: tuple[str, ...] = (),
    later: tuple[str, ...] = (),
) -> _Insert:
    fields = tuple(_fields(model, names))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in (*fields, *_fields(model, now)))
    returned = (
        f" RETURNING {', '.join(quote(field.column) for field in _fields(model, returning))}" if returning else ""
    )
    duration = DurationField()
    values = [_later_sql(vendor) if field.name in later else "%s" for field in fields]
    return _Insert(
        head=f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ",
        row="(" + ", ".join(values + [now_sql()] * len(now)) + ")",
        tail=(" ON CONFLICT DO NOTHING" if skip_existing else "") + returned,
        fields=fields,
        prepare=tuple(
            partial(duration.get_db_prep_value, connection=connection) if field.name in later else preparer(field)
            for field in fields
        ),
    )


def insert(
    model,
    rows: list[dict],
    returning: tuple[str, ...] = (),
    written_first: tuple[type, list[dict]] | None = None,
    *,
    skip_existing: bool = False,
    now: tuple[str, ...] = (),
    later: tuple[str, ...] = (),
) -> list[tuple]:
    """INSERT ``rows`` (dicts with the same keys, in the same order), as few
    statements as the parameter limit allows, each value prepared as its
    field would; the statement is built once (``_statement``). The columns
    named in ``now`` (absent from the rows) take the database's now; those
    named in ``later`` take the database's now plus their row's value (a
    ``timedelta``). With
    ``skip_existing``, a row whose key exists already is left out (``ON
    CONFLICT DO NOTHING``), and only the rows written return. The rows of
    ``written_first`` (a model and its rows) are written before them: on
    PostgreSQL in the same statement, as a data-modifying ``WITH``, when
    each fits in one (one round trip fewer; the foreign keys between them
    are checked at commit)."""
    statements = [
        (sql, params, bool(returning)) for sql, params in _statements(model, rows, returning, skip_existing, now, later)
    ]
    if written_first is not None:
        first = _statements(*written_first)
        if connection.vendor == "postgresql" and len(first) == len(statements) == 1:
            ((first_sql, first_params),), ((sql, params, returns),) = first, statements
            statements = [(f"WITH written AS ({first_sql}) {sql}", first_params + params, returns)]
        else:
            statements = [(sql, params, False) for sql, params in first] + statements
    returned = []
    with connection.cursor() as cursor:
        for sql, params, returns in statements:
            cursor.execute(sql, params)
            if returns:
                returned += cursor.fetchall()
    return returned


def copy(model, rows: list[dict], *, now: tuple[str, ...] = ()) -> None:
    """Write ``rows`` as ``insert`` does (no ``RETURNING``), for many rows at
    once: on PostgreSQL through ``COPY``, which streams them with no
    statement to build and no placeholders to parse however many they are,
    the ``now`` columns taking the database's now, read once; elsewhere
    through ``insert``. For bulk seeding."""
    if connection.vendor != "postgresql" or not rows:
        if rows:
            insert(model, rows, now=now)
        return
    fields = _fields(model, tuple(rows[0]))
    prepare = [preparer(field) for field in fields]
    stamped = [database_now()] * len(now)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in (*fields, *_fields(model, now)))
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as stream,
    ):
        for row in rows:
            stream.write_row(
                [None if value is None else go(value) for value, go in zip(row.values(), prepare, strict=True)]
                + stamped
            )


def _statements(
    model,
    rows: list[dict],
    returning: tuple[str, ...] = (),
    skip_existing: bool = False,
    now: tuple[str, ...] = (),
    later: tuple[str, ...] = (),
) -> list[tuple[str, list]]:
    """The INSERT statements, with their parameters, that write ``rows``."""
    statement = _statement(model, tuple(rows[0]), returning, connection.vendor, skip_existing, now, later)
    size = (
        1 if len(rows) == 1 else max(1, min(ROWS_PER_STATEMENT, connection.ops.bulk_batch_size(statement.fields, rows)))
    )
    return [
        (
            statement.sql(len(chunk)),
            [
                None if value is None else prepare(value)  # NULL is NULL for every field here
                for row in chunk
                for value, prepare in zip(row.values(), statement.prepare, strict=True)
            ],
        )
        for chunk in (rows[start : start + size] for start in range(0, len(rows), size))
    ]


# --- The deliveries' marks ------------------------------------------------


@cache
def _claim_as_done_sql(vendor: str) -> str:
    return (
        f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
        f"SET status = %(done)s, attempts = attempts + 1, delivered_at = {now_sql()}, "
        "duration_ms = %(duration_ms)s, last_error = '', ran_on_commit = %(ran_on_commit)s "
        f"WHERE id = %(id)s AND status IN (%(pending)s, %(failed)s) AND next_attempt_at <= {now_sql()}"
    )


def claim_as_done(delivery_id: int, duration_ms: float, *, ran: bool = True) -> bool:
    """Mark a delivery done, with its duration, if it is still open and due
    by the database's clock (the on-commit path's claim, last in its
    transaction), as run on commit when it ``ran`` (not when the claim
    only records a failure); whether it was."""
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_as_done_sql(connection.vendor),
            {
                "done": Delivery.Status.DONE.value,
                "duration_ms": duration_ms,
                "ran_on_commit": ran,
                "id": delivery_id,
                "pending": Delivery.Status.PENDING.value,
                "failed": Delivery.Status.FAILED.value,
            },
        )
        return cursor.rowcount == 1


@cache
def _mark_done_sql(vendor: str, rows: int) -> str:
    whens = " ".join(f"WHEN %(id{n})s THEN %(ms{n})s" for n in range(rows))
    ids = ", ".join(f"%(id{n})s" for n in range(rows))
    return (
        f"UPDATE {connection.ops.quote_name(Delivery._meta.db_table)} "
        "SET status = %(done)s, attempts = attempts + 1, delivered_at = %(now)s, last_error = '', lease = NULL, "
        f"duration_ms = CASE id {whens} END WHERE id IN ({ids})"
    )


def mark_done(durations: list[tuple[int, float | None]]) -> datetime:
    """Mark a batch's delivered rows done in one statement, each with its
    duration (``bulk_update`` compiled a ``CASE`` per column per row, a third
    of a batch's time); when they were delivered."""
    delivered_at = timezone.now()
    params = {"done": Delivery.Status.DONE.value, "now": connection.ops.adapt_datetimefield_value(delivered_at)}
    for n, (delivery_id, duration_ms) in enumerate(durations):
        params[f"id{n}"], params[f"ms{n}"] = delivery_id, duration_ms
    with connection.cursor() as cursor:
        cursor.execute(_mark_done_sql(connection.vendor, len(durations)), params)
    return delivered_at


class RowsWritten:
    """Counts the rows a transaction writes, as the database itself reports
    them: SQLite's count of changes on the connection, PostgreSQL's command
    tag of each statement (``INSERT 0 3``, ``UPDATE 2``). No SQL is read."""

    def __enter__(self) -> "RowsWritten":
        self._tagged = 0
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            self._changes_before = connection.connection.total_changes
            self._wrapping = None
        else:
            self._wrapping = connection.execute_wrapper(self._count_tag)
            self._wrapping.__enter__()
        return self

    def __exit__(self, *exc):
        if self._wrapping is not None:
            self._wrapping.__exit__(*exc)
        return False

    def rows(self) -> int:
        if self._wrapping is None:
            return connection.connection.total_changes - self._changes_before
        return self._tagged

    def _count_tag(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        verb, _, count = (context["cursor"].statusmessage or "").rpartition(" ")
        if verb.split(" ")[0] in ("INSERT", "UPDATE", "DELETE") and count.isdigit():
            self._tagged += int(count)
        return result


# --- Shadow tables: a projection rebuilt beside the live one -----------------
# ``features.rebuilds``: this connection alone reads and writes an empty copy
# of each table (PostgreSQL: a schema of its own first in ``search_path``;
# SQLite: a TEMP table, which shadows the main one for this connection);
# every other connection keeps the live tables. ``merge_shadows`` then makes
# each live table equal to its copy, changing only the rows that differ.


@dataclass(frozen=True)
class Shadows:
    """The copies of ``tables`` this connection reads and writes; ``live`` and
    ``shadow`` are the schemas that qualify a live table and its copy."""

    tables: tuple[str, ...]
    live: str
    shadow: str
    search_path: str = ""  # PostgreSQL: the connection's own, put back after


def create_shadows(tables: tuple[str, ...], name: str) -> Shadows:
    """Make an empty copy of each table, with its columns, defaults, keys and
    indexes, and turn this connection's unqualified names to the copies."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT current_schema(), current_setting('search_path')")
            live, search_path = cursor.fetchone()
            cursor.execute(f"CREATE SCHEMA {quote(name)}")
            for table in tables:
                cursor.execute(
                    f"CREATE TABLE {quote(name)}.{quote(table)} (LIKE {quote(live)}.{quote(table)} INCLUDING ALL)"
                )
            cursor.execute(f"SET search_path TO {quote(name)}, {search_path}")
            return Shadows(tables, live, name, search_path)
        for table in tables:
            cursor.execute("SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = %s", [table])
            (ddl,) = cursor.fetchone()
            ddl = _REFERENCES.sub("", ddl)  # a TEMP table cannot refer to a main one; the copy needs no such check
            cursor.execute(ddl.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            cursor.execute("SELECT sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = %s", [table])
            for (index,) in cursor.fetchall():
                if index:  # the automatic indexes of a UNIQUE or PRIMARY KEY have no SQL: the DDL made them
                    cursor.execute(_INDEX.sub(r"CREATE \1INDEX temp.", index, count=1))
        return Shadows(tables, "main", "temp")


_REFERENCES = re.compile(r' REFERENCES "\w+" \("\w+"\)( DEFERRABLE INITIALLY DEFERRED)?')
_INDEX = re.compile(r"^CREATE (UNIQUE )?INDEX ")


def drop_shadows(shadows: Shadows) -> None:
    """Drop the copies and turn this connection's names back to the live tables."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET search_path TO {shadows.search_path}")
            cursor.execute(f"DROP SCHEMA IF EXISTS {quote(shadows.shadow)} CASCADE")
            return
        for table in shadows.tables:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{quote(table)}")


def lock_for_merge(shadows: Shadows) -> None:
    """In the merging transaction: make writers of the live tables wait
    until it commits (PostgreSQL: ``EXCLUSIVE``, which readers pass; SQLite:
    the transaction's write lock, taken at once), so no event of the
    projection commits between the last catch-up and the merge."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in shadows.tables:
                cursor.execute(f"LOCK TABLE {quote(shadows.live)}.{quote(table)} IN EXCLUSIVE MODE")
        else:
            cursor.execute(f"DELETE FROM main.{quote(shadows.tables[0])} WHERE 0")  # takes SQLite's write lock


def merge_shadows(shadows: Shadows, models: list[type[Model]]) -> int:
    """Make each live table equal to its copy, in the caller's transaction:
    delete the rows the copy lacks, insert those it adds, update those that
    differ; how many rows changed. Readers see the old figures until the
    transaction commits, then the new ones, never a mixture."""
    quote = connection.ops.quote_name
    changed = 0
    with connection.cursor() as cursor:
        for model in models:
            table = quote(model._meta.db_table)
            live, shadow = f"{quote(shadows.live)}.{table}", f"{quote(shadows.shadow)}.{table}"
            key = quote(model._meta.pk.column)
            columns = [quote(field.column) for field in model._meta.concrete_fields]
            values = [column for column in columns if column != key]
            names = ", ".join(columns)
            cursor.execute(f"DELETE FROM {live} WHERE {key} NOT IN (SELECT {key} FROM {shadow})")
            changed += cursor.rowcount
            cursor.execute(
                f"INSERT INTO {live} ({names}) SELECT {names} FROM {shadow} "
                f"WHERE {key} NOT IN (SELECT {key} FROM {live})"
            )
            changed += cursor.rowcount
            if values:
                distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"  # SQLite's word
                assign = ", ".join(f"{column} = copy.{column}" for column in values)
                differ = " OR ".join(f"kept.{column} {distinct} copy.{column}" for column in values)
                cursor.execute(
                    f"UPDATE {live} AS kept SET {assign} FROM {shadow} AS copy "
                    f"WHERE kept.{key} = copy.{key} AND ({differ})"
                )
                changed += cursor.rowcount
    return changed
