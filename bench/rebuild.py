"""A projection rebuilt without downtime: the follow counts rebuilt from
the log beside the live ones (``features.rebuilds``) while reader
processes read them, on one database (``bench.measure``, PostgreSQL).

The shop is seeded in bulk (``seed_demo --bulk``: accounts, follows and
their events), one account's counts are made to drift, then
``rebuild_projections follow_counts`` runs while ``readers`` processes read,
each in one statement, the sum of the followers counted and the follows
there are: equal at every commit, so any difference is a partial figure.
Reports the seed's time, the rebuild's time and rate, how long the swap
held the projection's writers off, the reads and the partial figures seen
(none). The rebuild's progress, with its rate and ETA, goes to stderr."""

import multiprocessing
import sys
import time

from django.core.management import call_command
from django.db import connection, connections

from accounts import projections
from accounts.models import AccountStats
from messaging.features import rebuilds
from messaging.registry import registry

READ_EVERY_SECONDS = 0.005


def _figures() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COALESCE(SUM(followers_count), 0) FROM accounts_accountstats), "
            "(SELECT COUNT(*) FROM accounts_follow)"
        )
        return cursor.fetchone()


def _reader(stop, results) -> None:
    connections.close_all()  # a connection of its own, never the parent's
    reads = partial = 0
    while not stop.wait(READ_EVERY_SECONDS):  # a busy page's pace, not a spin that starves the rebuild
        counted, follows = _figures()
        reads += 1
        partial += counted != follows
    results.put((reads, partial))
    connections.close_all()


def measure(accounts: int, follows: int, readers: int = 2, batch: int = 5000) -> dict:
    started = time.perf_counter()
    call_command(
        "seed_demo", "--bulk", f"--accounts={accounts}", f"--follows={follows}", "--books=0", "--orders=0", stdout=None
    )
    seeded = time.perf_counter() - started
    AccountStats.objects.filter(pk=AccountStats.objects.order_by("pk").values("pk")[:1]).update(following_count=-1)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    stop, results = context.Event(), context.Queue()
    processes = [context.Process(target=_reader, args=(stop, results)) for _ in range(readers)]
    for process in processes:
        process.start()
    marks = {}

    def progress(step: rebuilds.Progress) -> None:
        marks["swapped" if step.phase != "replaying" else "replayed"] = time.perf_counter()
        tenth = step.done * 10 // step.total
        if tenth > marks.get("tenth", 0) or step.phase != "replaying":  # a line a tenth of the way
            marks["tenth"] = tenth
            eta = f"ETA {step.eta_seconds:.0f} s" if step.eta_seconds is not None else "ETA unknown"
            print(
                f"  rebuild: {step.done:,}/{step.total:,} events ({step.done / step.total:.0%}), "
                f"{step.rate:,.0f}/s, {eta}, {step.phase}",
                file=sys.stderr,
                flush=True,
            )

    started = time.perf_counter()
    events, changed = rebuilds.rebuild(registry.projections["follow_counts"], batch=batch, progress=progress)
    seconds = time.perf_counter() - started
    stop.set()
    counted = [results.get() for _ in processes]
    for process in processes:
        process.join()
    drift = sum(1 for _ in projections.drift())
    return {
        "accounts": accounts,
        "follows": follows,
        "readers": readers,
        "seed_seconds": seeded,
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "swap_ms": (marks["swapped"] - marks["replayed"]) * 1000,
        "changed": changed,
        "reads": sum(reads for reads, _ in counted),
        "partial": sum(partial for _, partial in counted),
        "drift_after": drift,
    }
