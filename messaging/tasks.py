"""Celery as the transport of deliveries; the ``Delivery`` rows stay the ledger.

``enqueue`` (the bus's hand-off after commit) and the periodic ``sweep``
lease the rows they queue and publish their ids and that lease, never a
payload; a worker takes the rows over from the lease. Celery never retries
a task: retries and dead letters stay on the rows, and the sweep queues
again what is due. See docs/architecture.md, "Background delivery on
Celery".
"""

import logging
import threading
from uuid import UUID

from celery import shared_task
from celery.signals import task_prerun, worker_process_init, worker_ready, worker_shutdown
from django.db import DatabaseError, close_old_connections, connection, connections
from kombu.exceptions import OperationalError

from . import relay, store
from .conf import conf
from .delivery import claiming, workers
from .features import schedules, subscriptions

logger = logging.getLogger(__name__)

BACKFILL_QUEUE = "backfill"
"""The queue of the backfill lane's messages (a replay's deliveries), for
workers of their own (``celery worker -Q backfill``) or the database's."""
OUTSIDE_BACKFILL_QUEUE = "outside_backfill"
"""The queue of a backfill's outside effects (mail), for the mail workers
(``-Q outside,outside_backfill``): a slow mail server never holds a
database worker, in a backfill as in live traffic."""


@shared_task(name="messaging.deliver_batch", ignore_result=True, acks_late=True, max_retries=0)
def deliver(delivery_ids: list[int], queued: str | None = None) -> dict[str, int]:
    """Run the deliveries of database policies a message names, those still
    its own, many per transaction; their outcomes, counted."""
    return _deliver(delivery_ids, queued, outside=False)


@shared_task(name="messaging.deliver_outside_batch", ignore_result=True, acks_late=True, max_retries=0)
def deliver_outside(delivery_ids: list[int], queued: str | None = None) -> dict[str, int]:
    """Run the outside effects (mails) a message names, if still its own."""
    return _deliver(delivery_ids, queued, outside=True)


@shared_task(name="messaging.sweep", ignore_result=True, acks_late=False, max_retries=0)
def sweep() -> int:
    """Queue what is due and nobody holds: lost messages, a crash's
    leftovers, failures whose retry time has come. Bounded per kind by
    ``MESSAGING_SWEEP_LIMIT``; the number queued. First, the subscriptions'
    sweep opens what a previous release's process left out; then the
    scheduled commands whose time has come are dispatched here, each in its
    own transaction (they run no outside effect and hold no lease), for at
    most ``MESSAGING_SWEEP_RUN_SECONDS``: a deep backlog is swept over
    several runs. It runs on a queue of its own (``sweep``), so a long
    sweep holds up no delivery, and no delivery backlog delays the sweep."""
    subscriptions.sweep()
    schedules.dispatch_due(conf.MESSAGING_SWEEP_LIMIT, seconds=conf.MESSAGING_SWEEP_RUN_SECONDS)
    queued = 0
    for outside in (False, True):
        # live rows first; a replay's (the backfill lane) with the room left, a
        # sweep interval's share of MESSAGING_BACKFILL_PER_SECOND, on the backfill queue
        claim = claiming.claim_due(conf.MESSAGING_SWEEP_LIMIT, outside=outside, burst=conf.MESSAGING_SWEEP_SECONDS)
        if claim.ids:
            queued += _publish(claim, outside=outside)
    return queued


@worker_process_init.connect
def keep_database_connections(**_) -> None:
    """Let each worker process keep its database connection from task to
    task for ``WORKER_CONN_MAX_AGE`` seconds: with the web's ``CONN_MAX_AGE``
    of 0 (and Celery's fixup closing it after every task unless
    ``CELERY_DB_REUSE_MAX`` says otherwise), every delivery would pay for a
    new PostgreSQL connection. Each task still drops a broken or obsolete
    one first (``drop_unusable_connections``)."""
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = conf.MESSAGING_WORKER_CONN_MAX_AGE


class _Announcing:
    """A Celery worker's announcement of what it can run (``workers``),
    renewed every ``MESSAGING_WORKER_ANNOUNCE_SECONDS`` by a thread of the
    worker's main process, so an idle worker stays known; withdrawn when
    the worker shuts down."""

    def __init__(self):
        self.name = workers.worker_name("celery")
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                workers.announce(self.name)
            except DatabaseError as error:  # an outage: the next renewal tries again
                logger.warning("could not announce this worker (%s)", error)
            finally:
                connection.close()  # the thread's own connection: none held between renewals
            self.stopped.wait(conf.MESSAGING_WORKER_ANNOUNCE_SECONDS)

    def stop(self) -> None:
        self.stopped.set()
        try:
            workers.withdraw(self.name)
        except DatabaseError:  # its lease runs out instead
            pass
        finally:
            connection.close()


_announcing: list[_Announcing] = []


@worker_ready.connect
def announce_this_worker(**_) -> None:
    """Start announcing what this worker's processes can run (the main
    process has the same registry as its pool's)."""
    announcing = _Announcing()
    _announcing.append(announcing)
    threading.Thread(target=announcing.run, name="messaging-announce", daemon=True).start()


@worker_shutdown.connect
def withdraw_this_worker(**_) -> None:
    """Say this worker stopped: what only it knew is unknown from now on."""
    while _announcing:
        _announcing.pop().stop()


@task_prerun.connect
def drop_unusable_connections(sender=None, **_) -> None:
    """Before a task in a worker, close a connection that broke or outlived
    ``WORKER_CONN_MAX_AGE`` (Django does this per request on the web)."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        close_old_connections()


def enqueue(opened: list[store.Opened]) -> None:
    """Queue deliveries a commit just opened (the bus's hand-off, run after
    the commit), each kind on its own queue."""
    for outside in (False, True):
        ids = [row.delivery_id for row in opened if row.outside == outside]
        if ids:
            claim = claiming.claim_opened(ids, outside=outside)
            if claim.ids:
                _publish(claim, outside=outside)


def _deliver(delivery_ids: list[int], queued: str | None, *, outside: bool) -> dict[str, int]:
    claim = claiming.claim_queued(delivery_ids, outside=outside, queued=UUID(queued) if queued else None)
    if not claim.ids:
        logger.debug("deliveries %s are not this message's to run", delivery_ids)
        return {}
    return dict(relay.deliver_claimed(claim))


def _publish(claim: claiming.Claim, *, outside: bool) -> int:
    """Publish a claim's rows, ``MESSAGING_RELAY_BATCH`` a message (one for
    an outside effect), its live rows on the task's queue and its backfill
    rows on a backfill queue of their kind (``BACKFILL_QUEUE``,
    ``OUTSIDE_BACKFILL_QUEUE``), so that no live message waits behind a
    replay's; on the first failure give the rest back to the sweep. How
    many rows were published."""
    task, size = (deliver_outside, 1) if outside else (deliver, conf.MESSAGING_RELAY_BATCH)
    backfill_queue = OUTSIDE_BACKFILL_QUEUE if outside else BACKFILL_QUEUE
    broker_errors = _broker_errors(task.app)
    sent: list[int] = []
    try:
        with task.app.producer_or_acquire() as producer:
            for ids, queue in ((claim.live, None), (claim.backfill, backfill_queue)):
                for start in range(0, len(ids), size):
                    chunk = ids[start : start + size]
                    task.apply_async((chunk, str(claim.lease)), producer=producer, retry=False, queue=queue)
                    sent += chunk
    except broker_errors as error:
        left = claiming.Claim(claim.lease, sorted(set(claim.ids) - set(sent)))
        claiming.release(left)
        logger.warning(
            "broker unavailable (%s: %s): %d deliveries left to the sweep", type(error).__name__, error, len(left.ids)
        )
    return len(sent)


def _broker_errors(app) -> tuple[type[Exception], ...]:
    """What publishing raises when the broker cannot take a message now:
    kombu's own error and the transport's connection and channel errors."""
    connection = app.connection_for_write()
    return (OperationalError, *connection.connection_errors, *connection.channel_errors)
