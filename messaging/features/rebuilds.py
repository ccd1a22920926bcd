"""Rebuilding a projection without downtime: beside the live read model,
caught up from the log, swapped in at once.

``rebuild`` replays every stored event of the projection's types through
its projectors into empty copies of its tables (``sql.create_shadows``:
copies only the rebuilding connection sees), while the shop runs: readers
read the live tables, and commands keep projecting their events into them.
It then catches up with the events committed meanwhile, and merges the
copies into the live tables in one transaction (``sql.merge_shadows``:
only the rows that differ), holding off the projection's writers for that
short while: no event of its types commits between the last catch-up and
the merge. Readers see the old figures until that transaction commits, and
the rebuilt ones after: never a partial figure. A projection that declares
``replay`` replays each batch through it (a few set-based statements a
batch); any other runs each event through its projector.

Positions commit out of order, so "every event after the last one replayed"
is not enough: an event whose transaction began before the rebuild read
past its position may commit after. Every such event lies after the last
one that occurred two ``MESSAGING_SWEEP_SAFETY_SECONDS`` before the
rebuild began (the margin the sweep gives late commits): at the merge,
those after it not replayed yet are replayed. Under the merge's lock that
costs a count of the events after the mark (the log only grows, so a count
equal to the events replayed there means none was missed); only when a late
commit makes them differ are their positions read to find it.

A projection that declares no ``models`` is rebuilt in place
(``subscriptions.rebuild``: emptied, then refilled), as before.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from .. import sql, store
from ..conf import conf
from ..models import StoredEvent
from ..registry import Projection
from . import subscriptions


@dataclass(frozen=True)
class Progress:
    """How far a rebuild is: events replayed of ``total``, the rate
    (events a second) so far, and the seconds left at that rate."""

    done: int
    total: int
    rate: float
    eta_seconds: float | None
    phase: str = "replaying"


Report = Callable[[Progress], None]


def rebuild(projection: Projection, *, batch: int = 1000, progress: Report = lambda progress: None) -> tuple[int, int]:
    """Rebuild ``projection`` from the log beside its live tables and swap
    the result in; the events replayed, and how many rows of the read model
    changed. ``progress`` is called after each batch."""
    if not projection.models:
        return _in_place(projection, batch, progress)
    by_type = {event_type.type_name(): project for event_type, project in projection.projectors.items()}
    events = StoredEvent.objects.filter(type__in=by_type).order_by("position")
    low = _settled_before_the_margin()
    total = events.count()
    clock = _Clock(total, progress)
    replayed: set[int] = set()  # the positions replayed after ``low``: those that may have committed late

    def apply(rows: list[StoredEvent]) -> None:
        loaded = store.load_batch(rows)  # their keys read once a batch, not once an event
        if projection.replay:
            projection.replay(loaded)
        else:
            for row, event in zip(rows, loaded, strict=True):
                by_type[row.type](event)
        replayed.update(row.position for row in rows if row.position > low)

    tables = tuple(model._meta.db_table for model in projection.models)
    shadows = sql.create_shadows(tables, f"rebuild_{uuid.uuid4().hex[:12]}")
    try:
        last = 0
        while rows := list(events.filter(position__gt=last)[:batch]):
            with transaction.atomic(durable=True):
                apply(rows)
            last = rows[-1].position
            clock.tick(len(rows))
        with transaction.atomic(durable=True):
            sql.lock_for_merge(shadows)
            late = list(events.filter(position__gt=last))  # committed since the last batch was read
            settling = events.filter(position__gt=low, position__lte=last)
            if settling.count() > len(replayed):  # the log only grows: more there than replayed is a late commit
                missed = [
                    position for position in settling.values_list("position", flat=True) if position not in replayed
                ]
                late = sorted([*late, *events.filter(position__in=missed)], key=lambda row: row.position)
            apply(late)
            changed = sql.merge_shadows(shadows, list(projection.models))
        clock.tick(len(late), phase="swapped in")
    finally:
        sql.drop_shadows(shadows)
    return clock.done, changed


def _settled_before_the_margin() -> int:
    """A position every event still to commit lies after: the last event
    that occurred two safety margins ago (a transaction lasts far less than
    one). Reads the log's position index backwards, the last minutes only."""
    margin = timedelta(seconds=conf.MESSAGING_SWEEP_SAFETY_SECONDS)
    settled = StoredEvent.objects.filter(occurred_at__lt=sql.database_now() - 2 * margin).order_by("-position")
    return settled.values_list("position", flat=True).first() or 0


def _in_place(projection: Projection, batch: int, progress: Report) -> tuple[int, int | None]:
    clock = _Clock(0, progress)

    def tick(done: int, total: int) -> None:
        clock.total = total
        clock.tick(done - clock.done)

    return subscriptions.rebuild(projection, batch=batch, progress=tick)


class _Clock:
    """Counts the events replayed and tells ``report`` the rate and ETA."""

    def __init__(self, total: int, report: Report):
        self.total, self.done, self.report = total, 0, report
        self.started = time.monotonic()

    def tick(self, replayed: int, *, phase: str = "replaying") -> None:
        self.done += replayed
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        eta = left / rate if rate else None
        self.report(Progress(self.done, max(self.total, self.done), rate, eta, phase))
