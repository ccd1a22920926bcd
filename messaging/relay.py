"""Running deliveries outside a request: what relay workers, Celery tasks,
an operator's retry and tests call. Each binds the bus's ``dispatch`` to a
delivery path (``delivery.single``, ``delivery.batches``), so nothing below
the bus imports it."""

from collections import Counter

from . import bus
from .delivery import batches, claiming, single


def deliver(delivery_id: int) -> str | None:
    """Attempt one delivery that is due (an operator's retry, a test)."""
    return single.deliver(delivery_id, dispatch=bus.dispatch)


def deliver_all(delivery_ids) -> Counter:
    """Attempt several deliveries; one failing never stops the others."""
    return single.deliver_all(delivery_ids, dispatch=bus.dispatch)


def deliver_claimed(claim: claiming.Claim) -> Counter:
    """Attempt the deliveries a claim leased, those it still owns, many per
    transaction (a relay round, a Celery message)."""
    return batches.deliver_batches(claim.ids, dispatch=bus.dispatch, lease=claim.lease)


def deliver_due(limit: int, *, outside: bool) -> tuple[int, Counter]:
    """Claim up to ``limit`` due deliveries of one lane (outside effects, or
    the database's) and deliver them: how many were claimed, and how they ended."""
    claim = claiming.claim_due(limit, outside=outside)
    return len(claim.ids), (deliver_claimed(claim) if claim.ids else Counter())
