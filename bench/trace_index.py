"""The trace index at a million events: how long the staff's list of the
latest requests (and of the troubled ones) takes on PostgreSQL, with the
log at 10,000 events and then at 1,000,000, and the ratio of the two (1.0:
the page costs the same whatever the log's length).

    .venv/bin/python -m tests.support.pg_cluster -- .venv/bin/python -m bench.trace_index
    ... -m bench.trace_index --events 200000     # a shorter run

The log is made in SQL (``tests.support.event_log``): each request one
top-level event and one a policy stored, a delivery each, one in a
thousand dead. Each figure is the median of 9 runs after one to warm up.
"""

import argparse
import os
import statistics
import time

import django

REPEAT = 9
PAGE = 20


def timed(read) -> float:
    """The median milliseconds of ``read()``."""
    read()
    runs = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        read()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="the long log's events (default 1,000,000)")
    events = parser.parse_args().events
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("run it on PostgreSQL: python -m tests.support.pg_cluster -- python -m bench.trace_index")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("MESSAGING_LOG_LEVEL", "WARNING")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from messaging.operations.log import recent_requests
    from tests.support import event_log

    call_command("migrate", verbosity=0)
    reads = {
        "latest": lambda: recent_requests(PAGE),
        "troubled": lambda: recent_requests(PAGE, troubled=True),
    }
    short = 10_000
    event_log.fill(short // 2)
    at_short = {name: timed(read) for name, read in reads.items()}
    started = time.perf_counter()
    with connection.cursor() as cursor:  # the rest of the requests, numbered on from the first ones
        cursor.execute("SELECT count(*) FROM messaging_storedevent")
        assert cursor.fetchone()[0] == short
    event_log.fill(events // 2, start=short // 2 + 1)
    filled = time.perf_counter() - started
    at_long = {name: timed(read) for name, read in reads.items()}
    print(f"trace index, PostgreSQL, {PAGE} requests a page (log filled to {events:,} events in {filled:.0f} s)")
    print(f"{'list':10} {f'{short:,} events':>14} {f'{events:,} events':>16} {'ratio':>7}")
    for name in reads:
        ratio = at_long[name] / at_short[name]
        print(f"{name:10} {at_short[name]:11.1f} ms {at_long[name]:13.1f} ms {ratio:7.2f}")


if __name__ == "__main__":
    main()
