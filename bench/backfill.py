"""A backfill beside live traffic: the live deliveries' latency with and
without a large replay being worked through, on one database
(``bench.measure``, PostgreSQL).

The shop is seeded in bulk (``seed_demo --bulk``: its follows are the
past), and a no-op policy on ``AccountFollowed`` is added to it. Live
traffic is ``AddBook`` dispatched at a steady ``per_second`` for
``seconds``, delivered on commit by nobody: ``workers`` relay processes
pick the stock's deliveries up, as ``relay_events --loop`` does (a claim of
200, a sleep of ``POLL_SECONDS`` when a round found less). It runs once
alone, then again while the relay works through the replay of every past
follow in the backfill lane, once at each ``MESSAGING_BACKFILL_PER_SECOND``
of ``backfill_rates`` (the replay going on from one run to the next), and
last beside the same replay opened in the live lane (``replay --live``: as
every replay ran before the lanes). A live delivery's latency is from its event's
``occurred_at`` to its ``delivered_at``; the backfill's rate is the rows
done a second while live commands were sent. What the replay has left when
a live run ends is skipped (the bench measures the overlap, not the drain)."""

import multiprocessing
import statistics
import time

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.models import DurationField, ExpressionWrapper, F

from accounts.events import AccountFollowed
from catalog.commands import AddBook
from catalog.values import Money
from messaging import bus
from messaging import relay as runner
from messaging.features import subscriptions
from messaging.models import Delivery
from messaging.registry import registry

POLICY = "bench.backfilled"
LIVE_POLICY = "catalog.policies.stock_new_book"
POLL_SECONDS = 0.1
BATCH = 200


def _worker(stop) -> None:
    connections.close_all()  # a connection of its own, never the parent's
    while not stop.is_set():
        claimed, _ = runner.deliver_due(BATCH, outside=False)
        if claimed < BATCH:
            time.sleep(POLL_SECONDS)
    connections.close_all()


def _backfilled() -> int:
    return Delivery.objects.filter(policy=POLICY, status=Delivery.Status.DONE).count()


def _live_run(tag: str, seconds: float, per_second: float, workers: int) -> tuple[list[float], float]:
    """Dispatch ``AddBook`` at ``per_second`` for ``seconds`` while ``workers``
    relay processes deliver; the live deliveries' latencies (ms), once all are
    done, and the backfill rows done a second during the run."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    processes = [context.Process(target=_worker, args=(stop,)) for _ in range(workers)]
    for process in processes:
        process.start()
    backfilled, started = _backfilled(), time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        if sent < elapsed * per_second:
            bus.dispatch(AddBook(title=f"Live {tag}.{sent}", author="Bench", price=Money(1)))
            sent += 1
        else:
            time.sleep(min(0.005, (sent + 1) / per_second - elapsed))
    backfill_rate = (_backfilled() - backfilled) / (time.monotonic() - started)
    live = Delivery.objects.filter(policy=LIVE_POLICY, event__payload__title__startswith=f"Live {tag}.")
    deadline = time.monotonic() + 600  # in the live lane, behind the whole replay
    while live.exclude(status=Delivery.Status.DONE).exists():
        assert time.monotonic() < deadline, "the live deliveries were not all done ten minutes after the run"
        time.sleep(0.1)
    stop.set()
    for process in processes:
        process.join()
        assert process.exitcode == 0, "a relay worker failed"
    waited = ExpressionWrapper(F("delivered_at") - F("event__occurred_at"), output_field=DurationField())
    latencies = [wait.total_seconds() * 1000 for wait in live.annotate(waited=waited).values_list("waited", flat=True)]
    assert len(latencies) == sent, f"{sent} commands sent, {len(latencies)} live deliveries"
    return latencies, backfill_rate


def _skip_the_rest() -> None:
    Delivery.objects.filter(policy=POLICY, status__in=Delivery.OPEN).update(
        status=Delivery.Status.SKIPPED, last_error="bench: the overlap is measured, not the drain"
    )


def _cuts(latencies: list[float]) -> dict:
    cuts = statistics.quantiles(latencies, n=100)
    return {"count": len(latencies), "p50": statistics.median(latencies), "p95": cuts[94]}


def measure(
    accounts: int, follows: int, seconds: float, per_second: float, backfill_rates: list[float], workers: int = 4
) -> dict:
    """Live latency alone, beside the replay at each of ``backfill_rates``
    in turn (the replay goes on from one to the next), and beside it in the
    live lane; each run's cuts, its p95 over the run alone's, the backfill's
    rate."""
    started = time.perf_counter()
    call_command(
        "seed_demo", "--bulk", f"--accounts={accounts}", f"--follows={follows}", "--books=0", "--orders=0", stdout=None
    )
    seeded = time.perf_counter() - started
    settings.MESSAGING_DELIVER_ON_COMMIT, settings.MESSAGING_HAND_OFF = False, ""
    policy = registry.subscribe(AccountFollowed, lambda event: None, name=POLICY)
    runs = []
    try:
        subscriptions.start_new()
        alone, _ = _live_run("alone", seconds, per_second, workers)
        runs.append({"run": "alone", **_cuts(alone)})
        started = time.perf_counter()
        opened = subscriptions.replay(POLICY, batch=5000)
        opening = time.perf_counter() - started
        for rate in backfill_rates:
            settings.MESSAGING_BACKFILL_PER_SECOND = rate
            beside, backfill_rate = _live_run(f"beside{rate:g}", seconds, per_second, workers)
            runs.append({"run": "backfill", "rate": rate, **_cuts(beside), "backfill_rate": backfill_rate})
        _skip_the_rest()
        Delivery.objects.filter(policy=POLICY).delete()  # the same replay again, in the live lane: no lanes
        subscriptions.replay(POLICY, batch=5000, live=True)
        unlaned, _ = _live_run("unlaned", seconds, per_second, workers)
        runs.append({"run": "live lane", **_cuts(unlaned)})
        _skip_the_rest()
    finally:
        registry.unsubscribe(policy)
        settings.MESSAGING_DELIVER_ON_COMMIT = True
        settings.MESSAGING_BACKFILL_PER_SECOND = None
    for run in runs:
        run["ratio_p95"] = run["p95"] / runs[0]["p95"]
    return {
        "follows": follows,
        "seed_seconds": seeded,
        "replayed": opened,
        "open_seconds": opening,
        "seconds": seconds,
        "per_second": per_second,
        "workers": workers,
        "runs": runs,
    }
