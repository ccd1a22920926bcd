"""Ordered delivery's price: the relay's deliveries/s with and without an
ordering key, on one database (``bench.measure``, PostgreSQL).

The same no-op policy on ``BookAdded`` is subscribed twice over, in turn:
once without a key, once ordered by a key that four events share (as an
order's mails share its id: placed, confirmed, shipped, delivered). Each
run leaves the same number of books' deliveries pending, then ``workers``
relay processes drain them, as ``relay_events`` claims (batches of 200,
held rows passed by); the runs alternate, each side ``rounds`` times, and
the best of each side is kept (the machine is shared and noisy)."""

import multiprocessing
import time

from django.conf import settings
from django.db import connections

from catalog.commands import AddBook
from catalog.events import BookAdded
from catalog.values import Money
from messaging import bus
from messaging import relay as runner
from messaging.delivery import claiming
from messaging.models import Delivery
from messaging.registry import registry

EVENTS_PER_KEY = 4
POLICY = "bench.ordered_sink"


def _worker() -> None:
    connections.close_all()  # a connection of its own, never the parent's
    while (claim := claiming.claim_due(200)).ids:
        runner.deliver_claimed(claim)
    connections.close_all()


def _drain(workers: int) -> None:
    connections.close_all()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, "a relay worker failed"


def _run(books: int, workers: int, ordered: bool, tag: str) -> tuple[float, int]:
    """Deliveries/s draining ``books`` books' deliveries (the stock's, the
    sink's and their cascades'), and how many were drained."""
    _drain(1)  # what earlier measurements left open, untimed
    count = 0

    def key(event: BookAdded) -> str:
        nonlocal count
        count += 1
        return f"{tag}-{count // EVENTS_PER_KEY}"

    policy = registry.subscribe(BookAdded, lambda event: None, name=POLICY, ordered_by=key if ordered else None)
    try:
        settings.MESSAGING_DELIVER_ON_COMMIT, settings.MESSAGING_HAND_OFF = False, ""
        for n in range(books):
            bus.dispatch(AddBook(title=f"Ordered {tag}.{n}", author="Bench", price=Money(1)))
        settings.MESSAGING_DELIVER_ON_COMMIT = True
        done = Delivery.objects.filter(status=Delivery.Status.DONE)
        before = done.count()
        started = time.perf_counter()
        _drain(workers)
        drained = done.count() - before  # cascades' deliveries included
        rate = drained / (time.perf_counter() - started)
    finally:
        registry.unsubscribe(policy)
    undone = Delivery.objects.exclude(status__in=(Delivery.Status.DONE, Delivery.Status.SKIPPED)).count()
    assert not undone, f"the relay left {undone} deliveries undone"
    if ordered:
        _check_order(tag)
    return rate, drained


def _check_order(tag: str) -> None:
    """Within each key, the deliveries were done in the order of their events."""
    rows = Delivery.objects.filter(policy=POLICY, ordering_key__startswith=f"{tag}-").order_by("ordering_key", "pk")
    previous: dict[str, object] = {}
    for key, delivered_at in rows.values_list("ordering_key", "delivered_at"):
        assert previous.get(key) is None or previous[key] <= delivered_at, f"key {key} ran out of order"
        previous[key] = delivered_at


def measure(books: int, workers: int = 4, rounds: int = 3) -> dict:
    """The best deliveries/s of each side over ``rounds`` alternating runs."""
    best = {"unordered": 0.0, "ordered": 0.0}
    drained = 0
    for round_ in range(rounds):
        sides = ["unordered", "ordered"] if round_ % 2 == 0 else ["ordered", "unordered"]
        for side in sides:
            rate, drained = _run(books, workers, side == "ordered", f"{side}{round_}")
            best[side] = max(best[side], rate)
    return {"books": books, "deliveries": drained, "workers": workers, **best}
