"""An operator's decisions on dead letters, written once for the shell, the
API and the admin: retry (after fixing the fault) or discard."""

from collections import Counter

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


def retry(delivery_ids) -> Counter:
    """Give the dead letters among ``delivery_ids`` fresh attempts and run
    the first now; how each ended."""
    dead = dead_among(delivery_ids)
    if not dead:
        return Counter()
    claiming.reopen(dead)
    return relay.deliver_all(dead)


def discard(delivery_ids) -> int:
    """Give up on the dead letters among ``delivery_ids``: the rows stay,
    marked discarded, never delivered; how many."""
    dead = dead_among(delivery_ids)
    return claiming.discard(dead) if dead else 0
