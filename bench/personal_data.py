"""Personal data in the benchmark: the store with its sealing switched off
(what sealing costs is the difference), and how long forgetting a person
takes as the history grows. Runs inside ``bench.measure`` (Django is set
up, one database per process).
"""

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.commands import ForgetAccount, RegisterAccount
from accounts.values import Email, Password, Username
from messaging import bus, store
from messaging.models import StoredEvent
from messaging.registry import registry

SEED_ROWS_PER_STATEMENT = 100_000


# --- What sealing costs -------------------------------------------------------


def _plain_payloads(events) -> list[dict]:
    return [event.payload() for event in events]


def _upcast_payloads(rows) -> list[dict]:
    return [registry.upcast(row.type, row.version, row.payload) for row in rows]


@contextmanager
def unsealed() -> Iterator[None]:
    """Within it, the store appends each event's payload as the event gives
    it and reads a stored payload back as it is (upcast only): exactly what
    ``store._sealed_payloads`` and ``store.opened_payloads`` add is left out
    (reading the subjects' keys, making a new subject's key, unwrapping it,
    AES-GCM, base64), and nothing else, so the pipeline with and without it
    measures what sealing costs. The bench's alone: the product never runs
    unsealed, and this patches no product code, only the two module names
    the store calls through."""
    sealed, opened = store._sealed_payloads, store.opened_payloads
    store._sealed_payloads, store.opened_payloads = _plain_payloads, _upcast_payloads
    try:
        yield
    finally:
        store._sealed_payloads, store.opened_payloads = sealed, opened


def run_unsealed(run: Callable[..., int]) -> Callable[..., int]:
    """A flow of ``bench.flows`` that runs with sealing switched off."""

    def flow(*args) -> int:
        with unsealed():
            return run(*args)

    return flow


# --- Forgetting at any size of history ----------------------------------------


def _seed_sql(vendor: str) -> str:
    """An INSERT of ``%s`` restocks (no personal data, no deliveries: plain
    history) stamped ``%s``, numbers made in the database."""
    if vendor == "postgresql":
        numbers, new_id, book = "SELECT generate_series(1, %s)", "gen_random_uuid()", "gen_random_uuid()::text"
        payload, false = f"jsonb_build_object('book_id', {book}, 'quantity', 1, 'on_hand', 11)", "false"
    else:
        numbers = "SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s"
        new_id = book = "lower(hex(randomblob(16)))"  # a UUIDField's form on SQLite: 32 hex digits
        payload, false = f"json_object('book_id', {book}, 'quantity', 1, 'on_hand', 11)", "0"
    quote = connection.ops.quote_name
    columns = (
        "event_id, type, version, payload, is_rejection, occurred_at, command_id, command_type, correlation_id, "
        "causation_id, actor_id, policy, trace_id, command_duration_ms"
    )
    return (
        f"WITH RECURSIVE n(i) AS ({numbers}) "
        f"INSERT INTO {quote(StoredEvent._meta.db_table)} ({', '.join(quote(c) for c in columns.split(', '))}) "
        f"SELECT {new_id}, 'BookRestocked', 1, {payload}, {false}, %s, {new_id}, 'RestockBook', {new_id}, "
        "NULL, NULL, '', '', NULL FROM n"
    )


def grow_history(to: int) -> float:
    """Top the event log up to ``to`` stored events with plain rows, a
    statement (and a transaction) per ``SEED_ROWS_PER_STATEMENT``; the
    seconds it took. Statistics are refreshed afterwards on PostgreSQL, as
    autovacuum would after a load this size."""
    started = time.perf_counter()
    stored = StoredEvent.objects.count()
    sql = _seed_sql(connection.vendor)
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    while stored < to:
        rows = min(SEED_ROWS_PER_STATEMENT, to - stored)
        with connection.cursor() as cursor:
            cursor.execute(sql, [rows, stamp])
        stored += rows
    assert StoredEvent.objects.count() >= to, "the seeding fell short"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(StoredEvent._meta.db_table)}")
    return time.perf_counter() - started


def _registered(name: str):
    """A new account, registered through the bus: it has a data key and a sealed registration."""
    result = bus.dispatch(
        RegisterAccount(
            email=Email(f"{name}@x.test"), username=Username(name), password=Password("a long bench secret")
        )
    )
    assert result.ok, result.rejection
    return result.events[0].account_id


def forget_times(count: int, tag: str) -> tuple[list[float], int]:
    """Seconds to dispatch ``ForgetAccount`` (its after-commit policies
    included, as a request waits for them) for each of ``count`` accounts
    registered just before, after one untimed; and how many statements the
    last one ran (the same at every size of history: it searches nothing)."""
    accounts = [_registered(f"forget{tag}n{n}") for n in range(count + 1)]
    times = []
    for account_id in accounts[:-1]:
        started = time.perf_counter()
        result = bus.dispatch(ForgetAccount(account_id=account_id))
        times.append(time.perf_counter() - started)
        assert result.ok, result.rejection
    with CaptureQueriesContext(connection) as statements:
        bus.dispatch(ForgetAccount(account_id=accounts[-1]))
    return times[1:], len(statements)


def measure(*, histories: list[int], forgets: int) -> dict:
    """Forget ``forgets`` people at each size of history (the event log
    grown to it in between): p50 and p95 in ms, the seconds each growth
    took, and the p50 at the largest history over that at the smallest."""
    measured = []
    for size in histories:
        seconds = grow_history(size)
        times, statements = forget_times(forgets + 1, str(size))
        cuts = statistics.quantiles(times, n=100)
        measured.append(
            {
                "events": size,
                "seed_seconds": seconds,
                "p50": cuts[49] * 1000,
                "p95": cuts[94] * 1000,
                "statements": statements,
            }
        )
        print(f"  forgetting at {size:,} stored events: {measured[-1]}", file=sys.stderr, flush=True)
    return {"forgets": forgets, "histories": measured, "ratio": measured[-1]["p50"] / measured[0]["p50"]}
