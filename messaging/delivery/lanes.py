"""The lanes of deliveries: live (what the shop does now) and backfill
(what a replay opened), and the pace the backfill lane keeps.

A claim fills its room with live rows first; only what is left goes to
backfill rows, and no more of them than ``MESSAGING_BACKFILL_PER_SECOND``
allows, every worker together, for each kind (database, outside effects):
the pace is one row a kind (``models.Pace``), its
``free_at`` moved on by ``1 / rate`` seconds per row claimed (a generic
cell rate algorithm), by the database's clock. A claim takes rows while
``free_at`` is less than ``burst`` seconds ahead of now: a second's worth
for a relay round, a sweep interval's worth for Celery's sweep, which
queues them on a queue of their own. The pace row is locked ``SKIP
LOCKED``: a worker that finds another filling the lane takes no backfill
this round rather than wait for it. See docs/architecture.md, "Lanes".
"""

import logging
import math
from collections.abc import Callable
from datetime import timedelta

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db.models.functions import Now

from .. import sql
from ..conf import conf
from ..models import Delivery, Pace

LIVE, BACKFILL = None, Delivery.BACKFILL
"""A delivery's ``lane``: ``None`` live, ``"backfill"`` opened by a replay."""
OUTSIDE_PACE = "outside backfill"
"""The pace of the outside effects' backfill (mail), apart from the database's
(``BACKFILL``): neither kind's backfill takes the other's share."""

logger = logging.getLogger("messaging.lanes")


def per_second() -> float | None:
    """``MESSAGING_BACKFILL_PER_SECOND``: backfill rows a second, each kind
    (database, outside) at its own pace; ``0`` pauses the lane, ``None``
    lifts the limit. Raises ``ImproperlyConfigured`` on anything else
    (``check_rate`` says so at start)."""
    rate = conf.MESSAGING_BACKFILL_PER_SECOND
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate < 0:
        raise ImproperlyConfigured(
            f"MESSAGING_BACKFILL_PER_SECOND is backfill deliveries a second: a number, 0 to pause the backfill, "
            f"or None for no limit; not {rate!r}"
        )
    return float(rate)


def check_rate(**kwargs) -> list[checks.Error]:
    """The system check of ``MESSAGING_BACKFILL_PER_SECOND``: ``manage.py
    check``, ``migrate`` and ``relay_events`` refuse to start on a bad one."""
    try:
        per_second()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="messaging.E001")]
    return []


def _rate_now() -> float | None:
    """``per_second()`` as a claim reads it: a bad rate reads as 0 (the
    backfill waits, and the log says why), so live deliveries never stop
    for it."""
    try:
        return per_second()
    except ImproperlyConfigured as error:
        logger.error("the backfill waits: %s", error)
        return 0.0


def paused() -> bool:
    """Whether no backfill row may be claimed now whatever the pace: the
    rate is 0, or not a rate at all."""
    return _rate_now() == 0


def paced(room: int, take: Callable[[int], list[int]], *, outside: bool | None = None, burst: float = 1.0) -> list[int]:
    """Take up to ``room`` backfill rows with ``take(n)`` (which locks and
    returns at most ``n`` ids), as many as the pace of their kind (outside
    effects or not) allows now; the ids taken. Call it inside the claim's
    transaction: the pace row stays locked until it commits. A bad rate
    takes none and says so in the log: the live rows claimed beside them
    go on."""
    if room <= 0:
        return []
    rate = _rate_now()
    if rate is None:
        return take(room)
    if rate == 0:
        return []
    pace = _locked(OUTSIDE_PACE if outside else BACKFILL)
    if pace is None:  # another worker is filling the lane right now
        return []
    now = pace.now
    start = max(pace.free_at, now)
    ahead = (start - now).total_seconds()
    # The epsilon keeps a product such as 1/0.95 * 0.95 from flooring to 0; an idle lane
    # takes at least one row, so a pace slower than one a second still moves.
    allowed = min(room, max(1 if ahead <= 0 else 0, math.floor((max(burst, 1 / rate) - ahead) * rate + 1e-9)))
    if allowed <= 0:
        return []
    ids = take(allowed)
    if ids:
        Pace.objects.filter(pk=pace.pk).update(free_at=start + timedelta(seconds=len(ids) / rate))
    return ids


def _locked(name: str) -> Pace | None:
    """The pace ``name``, locked (made the first time), with the database's
    ``now`` read in the same query; ``None`` when another claim holds it."""
    found = Pace.objects.select_for_update(skip_locked=True).filter(lane=name).annotate(now=Now())
    pace = found.first()
    if pace is None and not Pace.objects.filter(lane=name).exists():
        Pace.objects.bulk_create([Pace(lane=name, free_at=sql.database_now())], ignore_conflicts=True)
        pace = found.first()
    return pace
