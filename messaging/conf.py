"""The kernel's settings, each with a default of its own, all named
``MESSAGING_*``: a host project sets only what it wants to change.

Read them as ``conf.MESSAGING_MAX_ATTEMPTS``: Django's setting when the
project has one (read at each use, so a test's override holds), this
module's default otherwise.
"""

from django.conf import settings

DEFAULTS = {
    # A failing delivery is retried after base * 2**(attempt-1) seconds and
    # dead-lettered after this many attempts.
    "MESSAGING_MAX_ATTEMPTS": 5,
    "MESSAGING_RETRY_BASE_SECONDS": 2.0,
    # Deliver right after each commit, in the process that committed, at
    # most this many rows per top-level commit (cascades included).
    "MESSAGING_DELIVER_ON_COMMIT": True,
    "MESSAGING_DELIVER_ON_COMMIT_LIMIT": 20,
    # An outside effect whose outcome is unknown (the mail server took the
    # mail and did not answer in time) is tried once more after this long,
    # then parked as a dead letter (``ledger.OutcomeUnknown``).
    "MESSAGING_UNKNOWN_OUTCOME_RETRY_SECONDS": 600.0,
    # How long a worker owns what it claimed (an outside effect: longer than
    # the slowest send).
    "MESSAGING_LEASE_SECONDS": 60.0,
    "MESSAGING_OUTSIDE_LEASE_SECONDS": 60.0,
    # Deliveries a relay worker (or a queued message) runs in one transaction,
    # and the rows any transaction may write (a fan-out's batch).
    "MESSAGING_RELAY_BATCH": 25,
    "MESSAGING_FANOUT_BATCH_SIZE": 300,
    # A replay's deliveries (the backfill lane) are claimed only with what a
    # claim has room for after the live ones, and at most this many a second,
    # every worker together; None: no limit but the room.
    "MESSAGING_BACKFILL_PER_SECOND": 100.0,
    # The subscriptions' sweep, and the margin behind which it looks again.
    "MESSAGING_SUBSCRIPTION_SWEEP_SECONDS": 60.0,
    "MESSAGING_SWEEP_SAFETY_SECONDS": 300.0,
    "MESSAGING_SWEEP_LIMIT": 500,
    # How often Celery's beat sweeps (the backfill it queues: this long's share).
    "MESSAGING_SWEEP_SECONDS": 10.0,
    # The longest one Celery sweep dispatches schedules: it stops after
    # MESSAGING_SWEEP_LIMIT of them or this many seconds, the rest left to
    # the next run.
    "MESSAGING_SWEEP_RUN_SECONDS": 5.0,
    # A waiting schedule this long past its time breaks a rule
    # (check_invariants), and so does a sweep this late (a warning).
    "MESSAGING_SCHEDULE_OVERDUE_SECONDS": 60.0,
    # A worker renews what it announces (the policies it can run) this often,
    # and is taken for gone when not heard from for the lease; an open
    # delivery no live worker can run is reported after the last one.
    "MESSAGING_WORKER_ANNOUNCE_SECONDS": 15.0,
    "MESSAGING_WORKER_LEASE_SECONDS": 60.0,
    "MESSAGING_UNKNOWN_DELIVERY_SECONDS": 300.0,
    # The import path of a function handing opened deliveries to a queue
    # (``messaging.tasks.enqueue`` with Celery); empty: the relay finds them.
    "MESSAGING_HAND_OFF": "",
    # How long a Celery worker process keeps its database connection.
    "MESSAGING_WORKER_CONN_MAX_AGE": 600,
    # What ``manage.py prune`` keeps: idempotency records, settled deliveries.
    "MESSAGING_RETENTION_DAYS": 30,
    # Readiness thresholds (``/health/``), off by default: a node is not ready
    # when the oldest due delivery has waited longer, or more rows are due.
    "MESSAGING_READY_MAX_LAG_SECONDS": None,
    "MESSAGING_READY_MAX_BACKLOG": None,
    # The domain part of each queued mail's Message-ID.
    "MESSAGING_MAIL_MESSAGE_ID_DOMAIN": "localhost",
    # The keys wrapping each person's data key (``personal``): no default a
    # production could run on; a host project must set them.
    "MESSAGING_PERSONAL_DATA_KEYS": (),
}


class _Settings:
    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(f"{name} is no setting of the messaging kernel")
        return getattr(settings, name, DEFAULTS[name])


conf = _Settings()
