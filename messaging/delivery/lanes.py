"""The lanes of deliveries: live (what the shop does now) and backfill
(what a replay opened), and the pace the backfill lane keeps.

A claim fills its room with live rows first; only what is left goes to
backfill rows, and no more of them than ``MESSAGING_BACKFILL_PER_SECOND``
allows, every worker together: the pace is one row (``models.Pace``), its
``free_at`` moved on by ``1 / rate`` seconds per row claimed (a generic
cell rate algorithm), by the database's clock. A claim takes rows while
``free_at`` is less than ``burst`` seconds ahead of now: a second's worth
for a relay round, a sweep interval's worth for Celery's sweep, which
queues them on a queue of their own. The pace row is locked ``SKIP
LOCKED``: a worker that finds another filling the lane takes no backfill
this round rather than wait for it. See docs/architecture.md, "Lanes".
"""

from collections.abc import Callable
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db.models.functions import Now

from .. import sql
from ..conf import conf
from ..models import Delivery, Pace

LIVE, BACKFILL = None, Delivery.BACKFILL
"""A delivery's ``lane``: ``None`` live, ``"backfill"`` opened by a replay."""


def per_second() -> float | None:
    """``MESSAGING_BACKFILL_PER_SECOND``: backfill rows a second, or ``None`` for no limit."""
    rate = conf.MESSAGING_BACKFILL_PER_SECOND
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise ImproperlyConfigured(
            f"MESSAGING_BACKFILL_PER_SECOND is backfill deliveries a second, a number above 0 (or None for no "
            f"limit), not {rate!r}"
        )
    return float(rate)


def paced(room: int, take: Callable[[int], list[int]], *, burst: float = 1.0) -> list[int]:
    """Take up to ``room`` backfill rows with ``take(n)`` (which locks and
    returns at most ``n`` ids), as many as the pace allows now; the ids
    taken. Call it inside the claim's transaction: the pace row stays
    locked until it commits."""
    rate = per_second()
    if room <= 0:
        return []
    if rate is None:
        return take(room)
    pace = _locked()
    if pace is None:  # another worker is filling the lane right now
        return []
    now = pace.now
    start = max(pace.free_at, now)
    ahead = (start - now).total_seconds()
    allowed = min(room, int((max(burst, 1 / rate) - ahead) * rate))
    if allowed <= 0:
        return []
    ids = take(allowed)
    if ids:
        Pace.objects.filter(pk=pace.pk).update(free_at=start + timedelta(seconds=len(ids) / rate))
    return ids


def _locked() -> Pace | None:
    """The backfill lane's pace, locked (made the first time), with the
    database's ``now`` read in the same query; ``None`` when another claim
    holds it."""
    found = Pace.objects.select_for_update(skip_locked=True).filter(lane=BACKFILL).annotate(now=Now())
    pace = found.first()
    if pace is None and not Pace.objects.filter(lane=BACKFILL).exists():
        Pace.objects.bulk_create([Pace(lane=BACKFILL, free_at=sql.database_now())], ignore_conflicts=True)
        pace = found.first()
    return pace
