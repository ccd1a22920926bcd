"""Reads at scale, in process: seed a large social graph in bulk, then time
the profile, relationship and followers-page queries as the API runs them.

Runs inside ``bench.measure`` (Django is set up, one database per process).
"""

import io
import random
import statistics
import sys
import time

from django.core.management import call_command
from django.db import connection

from accounts import queries
from accounts.models import Account

PAGE = 20  # the API's default page size


def seed(accounts: int, follows: int) -> float:
    """``seed_demo --bulk`` with this many accounts and follows (no books or
    orders); the seconds it took. Statistics are refreshed afterwards, as
    autovacuum would after a load this size."""
    started = time.perf_counter()
    call_command(
        "seed_demo",
        "--bulk",
        f"--accounts={accounts}",
        f"--follows={follows}",
        "--books=0",
        "--orders=0",
        stdout=io.StringIO(),
    )
    seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return seconds


def percentiles(run, arguments: list) -> dict:
    """p50 and p95 in milliseconds of ``run(*args)`` over ``arguments``, after a short warm-up."""
    for args in arguments[:10]:
        run(*args)
    times = []
    for args in arguments:
        started = time.perf_counter()
        run(*args)
        times.append(time.perf_counter() - started)
    cuts = statistics.quantiles(times, n=100)
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000}


def _followers_page(account_id) -> None:
    """What ``GET accounts/{id}/followers/`` asks the database: the page and its count."""
    rows = queries.followers_of(account_id)
    list(rows[:PAGE])
    rows.count()


def measure(*, accounts: int, follows: int, samples: int) -> dict:
    seconds = seed(accounts, follows)
    print(f"  bulk seed of {accounts:,} accounts and {follows:,} follows: {seconds:.0f}s", file=sys.stderr, flush=True)
    rng = random.Random(7)
    ids = list(Account.objects.values_list("pk", flat=True))
    picked = [rng.choice(ids) for _ in range(samples)]
    pairs = [(rng.choice(ids), other) for other in picked]
    return {
        "accounts": Account.objects.count(),
        "follows": follows,
        "seed_seconds": seconds,
        "profile": percentiles(queries.account, [(pk,) for pk in picked]),
        "relationship": percentiles(queries.relationship, pairs),
        "followers page": percentiles(_followers_page, [(pk,) for pk in picked]),
    }
