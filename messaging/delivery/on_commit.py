"""Delivering right after a commit, in the committing process: what makes a
client see a policy's effects (the follows a block removed) as soon as its
request returns.

The event is still in memory, and one conditional UPDATE claims the row and
marks it done at once, last in the transaction (``sql.claim_as_done``): it
matches only an open, due row, and holds the row's lock until the
transaction ends, so a relay skips it; when a relay took the row meanwhile,
the run rolls back. This path delivers at most
``MESSAGING_DELIVER_ON_COMMIT_LIMIT`` rows per commit, cascades included,
never a delivery held back by an earlier one of its key (``ordered_by``),
never one of a policy that asks for a relay (``relay_only``), and never an
outside effect: the request answers after a bounded amount of
work, and the relay (or the queue, ``hand_off``) takes the rest.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from .. import sql, store
from ..conf import conf
from ..models import Delivery, not_held
from ..refusal_rule import RunWithSavepoints, Undo
from .ledger import Dispatch, apply, record_failure, running, since

HandOff = Callable[[list["store.Opened"]], None]

_budget_left: ContextVar[list[int] | None] = ContextVar("on_commit_budget", default=None)
"""The deliveries the commit being delivered may still run: shared by the
cascade one top-level commit sets off, since the commits of its policies run
their callbacks inside its own, in this same context."""


@contextmanager
def _budget() -> Iterator[list[int]]:
    budget = _budget_left.get()
    if budget is not None:
        yield budget
        return
    budget = [conf.MESSAGING_DELIVER_ON_COMMIT_LIMIT]
    token = _budget_left.set(budget)
    try:
        yield budget
    finally:
        _budget_left.reset(token)


def deliver_opened(opened: Iterable["store.Opened"], *, dispatch: Dispatch, hand_off: HandOff | None = None) -> Counter:
    """Attempt deliveries just opened, with their events in hand; one failing
    never stops the others. Outside effects, and whatever exceeds the
    commit's budget, are left pending for the relay, and given to
    ``hand_off`` when there is one (a queue of background workers). A
    failure is not handed off: it waits for its retry time and the sweep."""
    outcomes, left = Counter(), []
    with _budget() as budget:
        for delivery in opened:
            if delivery.outside or delivery.relay_only or budget[0] <= 0:
                outcomes["left to the relay"] += 1
                left.append(delivery)
                continue
            if delivery.ordering_key is not None and _held(delivery.delivery_id):
                outcomes["held"] += 1  # the relay runs it once the earlier ones of its key settle
                left.append(delivery)
                continue
            budget[0] -= 1
            outcomes[_deliver_opened(delivery, dispatch) or "skipped"] += 1
    if left and hand_off is not None:
        hand_off(left)
    return outcomes


def _held(delivery_id: int) -> bool:
    """Whether an earlier delivery of its policy and key is open or dead (one
    query, paid only by a policy declaring ``ordered_by``)."""
    return not Delivery.objects.filter(not_held(), pk=delivery_id).exists()


class _TakenMeanwhile(Exception):
    """Rolls back a policy run right after a commit whose row someone else
    (a relay) took or settled while it ran."""


def _deliver_opened(opened: "store.Opened", dispatch: Dispatch) -> str | None:
    """Run the policy and claim the row as done, with how long the run took,
    in one transaction with no savepoint (``Undo.DELIVERY``). A failure
    rolls it back whole, and a second transaction claims the row to record
    the failure; a refusal of the policy's command runs it again with
    savepoints (``refusal_rule``), where the refusal is recorded."""
    event = opened.event
    with running(opened.delivery_id, event.type_name(), opened.policy, event.correlation_id, event.event_id) as span:
        started = time.perf_counter()
        for undo in (Undo.DELIVERY, Undo.SAVEPOINT):
            try:
                with transaction.atomic(durable=True):
                    apply(event, opened.policy, dispatch, undo)
                    if not sql.claim_as_done(opened.delivery_id, since(started)):
                        raise _TakenMeanwhile
                span.outcome(Delivery.Status.DONE)
                return Delivery.Status.DONE
            except RunWithSavepoints:
                continue
            except _TakenMeanwhile:
                return None
            except Exception as error:
                failure, duration_ms = error, since(started)
                break
        with transaction.atomic(durable=True):
            if not sql.claim_as_done(opened.delivery_id, duration_ms, ran=False):
                return None  # taken by someone else since the roll-back
            delivery = Delivery.objects.get(pk=opened.delivery_id)  # attempts counts this one already
            record_failure(delivery, event.type_name(), failure)
            delivery.delivered_at, delivery.duration_ms = None, duration_ms
            delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at", "duration_ms"])
        span.outcome(delivery.status, failure)
        return delivery.status
