"""An operator's decisions on dead letters, written once for the shell, the
API and the admin: retry (after fixing the fault) or discard."""

from .. import relay
from ..delivery import claiming
from ..models import Delivery
from ..refusals import KernelRefusal


class NotDeadLettered(Exception):
    """Raised for a delivery that is not a dead letter: only those can be
    retried or discarded (``KernelRefusal.NOT_DEAD_LETTERED``)."""

    refusal = KernelRefusal.NOT_DEAD_LETTERED

    def __init__(self, delivery: Delivery):
        super().__init__(f"delivery {delivery.pk} is {delivery.status}, not dead-lettered")


def dead_among(delivery_ids) -> list[int]:
    """Those of ``delivery_ids`` that are dead-lettered, in order."""
    return list(
        Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.DEAD)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def require_dead(delivery: Delivery) -> None:
    """Refuse (``NotDeadLettered``) unless ``delivery`` is a dead letter."""
    if delivery.status != Delivery.Status.DEAD:
        raise NotDeadLettered(delivery)


TAKEN = "taken by a worker meanwhile"


def retry(delivery_ids) -> int:
    """Give the dead letters among ``delivery_ids`` fresh attempts, due at
    once, for the relay workers (or Celery's sweep) to run; how many were
    reopened. Nothing runs in the caller: an HTTP request (the API, the
    admin) must not wait on a policy, let alone a mail server."""
    dead = dead_among(delivery_ids)
    return claiming.reopen(dead) if dead else 0


def retry_now(delivery_ids) -> dict[int, str]:
    """The shell's retry: reopen the dead letters among ``delivery_ids`` and
    attempt each here; for each, its new status, or ``TAKEN`` when a live
    worker took it between the reopening and this attempt (it runs there,
    once: neither a failure nor a second run)."""
    dead = dead_among(delivery_ids)
    if not dead:
        return {}
    claiming.reopen(dead)
    return {pk: relay.deliver(pk) or TAKEN for pk in dead}


def discard(delivery_ids) -> int:
    """Give up on the dead letters among ``delivery_ids``: the rows stay,
    marked discarded, never delivered; how many."""
    dead = dead_among(delivery_ids)
    return claiming.discard(dead) if dead else 0
