"""Rows of the kernel: the event store, the delivery outbox, idempotency, schedules."""

from django.db import models
from django.utils import timezone

from .ambient import held_appends


class EventLog(models.Manager):
    """``StoredEvent.objects``: what a relay batch holds back to append is
    written first (``store.appends_held``), so whatever reads the log in
    that transaction, a handler or a projector, finds it."""

    def get_queryset(self):
        held = held_appends.get()
        if held is not None:
            held.flush()
        return super().get_queryset()


class StoredEvent(models.Model):
    """One fact, appended in the transaction that made it true.

    ``position`` orders the log; ``event_id`` is the id messages refer to
    (``causation_id`` of the commands a policy issued in reaction).
    """

    position = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, editable=False)
    type = models.CharField(max_length=100, db_index=True)
    version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField()
    is_rejection = models.BooleanField(default=False)
    occurred_at = models.DateTimeField()
    command_id = models.UUIDField()  # never looked up by: no index to write with every event
    command_type = models.CharField(max_length=100)
    correlation_id = models.UUIDField(db_index=True)
    causation_id = models.UUIDField(null=True, blank=True)
    actor_id = models.UUIDField(null=True, blank=True, help_text="The account whose command this was, when one acted.")
    policy = models.CharField(max_length=200, blank=True, help_text="The policy that issued the command, when one did.")
    trace_id = models.CharField(
        max_length=32, blank=True, help_text="The OpenTelemetry trace the command ran in, when one was recorded."
    )
    command_duration_ms = models.FloatField(
        null=True, blank=True, help_text="How long the command's handler and store took, in ms, when it ran."
    )

    objects = EventLog()

    class Meta:
        ordering = ["position"]
        # The requests (top-level commands) newest first, for the operator's
        # list of recent requests: only their events are indexed, so the
        # events a policy's command stores write no entry.
        indexes = [
            models.Index(fields=["position"], condition=models.Q(causation_id__isnull=True), name="event_of_a_request")
        ]

    def __str__(self):
        return f"{self.type} #{self.position}"


class Delivery(models.Model):
    """That one policy has to react (or has reacted) to one event.

    Created with the event, in the same transaction; marked ``DONE`` in the
    same transaction as the policy's effects, which is what makes each
    (event, policy) pair take effect exactly once.

    A delivery of an *outside effect* (``outside``: a mail, a call out) is
    never run inside a transaction: it is leased, run, then marked done, so
    it takes effect at least once. ``lease`` names the worker's claim that
    owns the row until ``next_attempt_at``; a worker whose lease was taken
    over no longer touches the row.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        FAILED = "failed", "failed, will retry"
        DONE = "done", "done"
        DEAD = "dead", "dead-lettered"
        DISCARDED = "discarded", "discarded by an operator"
        SKIPPED = "skipped", "skipped: nothing to do"

    OPEN = (Status.PENDING, Status.FAILED)  # still to take effect: due now or at its retry time

    event = models.ForeignKey(  # served by the (event, policy) unique index: no index of its own to write
        StoredEvent, on_delete=models.PROTECT, to_field="event_id", related_name="deliveries", db_index=False
    )
    policy = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, help_text="The last error, or why it was skipped.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    outside = models.BooleanField(default=False, help_text="An effect outside the database (mail): at least once.")
    lease = models.UUIDField(null=True, blank=True, help_text="The claim of the worker that owns the row.")
    duration_ms = models.FloatField(
        null=True, blank=True, help_text="How long the last attempt took (the policy and its commands), in ms."
    )
    ran_on_commit = models.BooleanField(
        db_default=False,  # the deliveries' INSERT (store.append) names no value for it
        help_text="Done right after the commit that opened it, in the committing process (a request, or a "
        "worker's delivery whose commands opened it), not by a relay worker's claim.",
    )
    event_version = models.PositiveSmallIntegerField(  # db_default: the release before inserts rows without it
        default=1,
        db_default=1,
        help_text="The version its event was stored in: a worker reading only older ones leaves it.",
    )
    ordering_key = models.CharField(  # noqa: DJ001 -- NULL is "no key": the partial index skips those rows
        max_length=200,
        null=True,
        blank=True,
        help_text="The key of a policy declaring one (ordered_by): its deliveries of one key run in event order.",
    )

    lane = models.CharField(  # noqa: DJ001 -- NULL is the live lane: the release before writes none
        max_length=10,
        null=True,
        blank=True,
        choices=[("backfill", "backfill")],
        help_text="backfill: opened by a replay, claimed after the live deliveries (empty) and at "
        "MESSAGING_BACKFILL_PER_SECOND at most.",
    )

    BACKFILL = "backfill"
    """The lane of what a replay opens; ``None`` is the live lane."""

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "policy"], name="one_delivery_per_event_and_policy")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            # each lane's claim, oldest due first, reading open rows of that lane only: a backfill's
            # hundred thousand rows never lie in the way of the live claim, nor the live ones in its
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status__in=["pending", "failed"], lane__isnull=True),
                name="delivery_live_due",
            ),
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status__in=["pending", "failed"], lane="backfill"),
                name="delivery_backfill_due",
            ),
            # what holds a delivery back: an earlier one of its policy and key (only keyed rows)
            models.Index(
                fields=["policy", "ordering_key", "status"],
                condition=models.Q(ordering_key__isnull=False),
                name="delivery_held_by",
            ),
            # throughput (``metrics.lag``): the rows done lately, without reading every done row
            models.Index(fields=["delivered_at"], condition=models.Q(status="done"), name="delivery_done_at"),
        ]

    def __str__(self):
        return f"{self.policy} <- {self.event_id} ({self.status})"


HOLDING = (Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.DEAD)
"""A delivery in one of these holds back the later ones of its policy and key."""


def blockers():
    """The deliveries that hold back the ``Delivery`` of the outer query: those
    of its policy and ordering key still open or dead-lettered whose events
    come earlier in the log. By the events' positions, not the rows' ids: a
    replay (or the sweep) opens rows for older events after the live rows
    of newer ones. A delivery without a key is never held."""
    # One event by its unique id: no ordering, no limit, no sort.
    position = StoredEvent.objects.filter(event_id=models.OuterRef(models.OuterRef("event"))).order_by()
    return Delivery.objects.filter(
        policy=models.OuterRef("policy"),
        ordering_key=models.OuterRef("ordering_key"),
        status__in=HOLDING,
        event__position__lt=models.Subquery(position.values("position")),
    )


def not_held() -> models.Q:
    """Deliveries free to run: without a key, or with no earlier one of their
    policy and key still open or dead (``blockers``)."""
    return models.Q(ordering_key=None) | ~models.Exists(blockers())


class Pace(models.Model):
    """How fast a lane's deliveries may be claimed, every worker together
    (``delivery.lanes``): a claim takes a row only while ``free_at`` is not
    further ahead of now than the lane's burst allows, and moves it on by
    one row's share of a second per row it takes."""

    lane = models.CharField(max_length=20, unique=True)
    free_at = models.DateTimeField(help_text="When the lane has caught up with the rows claimed so far.")

    def __str__(self):
        return f"{self.lane} free at {self.free_at:%Y-%m-%d %H:%M:%S.%f}"


class ProcessedCommand(models.Model):
    """A command dispatched with an idempotency key, and what it produced.

    Written in the command's own transaction, so a key is recorded exactly
    when its effects are.
    """

    actor = models.CharField(max_length=36, blank=True, help_text="Account id, empty for anonymous.")
    idempotency_key = models.CharField(max_length=255)
    command_type = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64, help_text="Keyed hash of the command's payload.")
    event_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor", "idempotency_key"], name="one_command_per_idempotency_key")
        ]

    def __str__(self):
        return f"{self.command_type} [{self.idempotency_key}]"


class IdempotentResponse(models.Model):
    """The HTTP answer given to a request sent with an ``Idempotency-Key``.

    The command's own key row (``ProcessedCommand``) is what keeps a repeat
    from having a second effect; this row keeps what was answered, so a
    repeat gets the same status and body. See ``interfaces.api_commands`` for why it is
    written right after the command's transaction rather than inside it.
    """

    actor = models.CharField(max_length=36, blank=True, help_text="Account id, empty for anonymous.")
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="Keyed hash of method, path and body.")
    status = models.PositiveSmallIntegerField()
    body = models.TextField(help_text="The JSON body as it was sent.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor", "idempotency_key"], name="one_response_per_idempotency_key")
        ]

    def __str__(self):
        return f"{self.status} [{self.idempotency_key}]"


class Subscription(models.Model):
    """Where one policy starts reading the event log (a projection reads
    none: it runs in the transaction of each event it projects).

    A subscriber added to a database that already has history starts after
    the last event stored when it was first seen (``starts_after``), so it
    is not owed the past unless an operator replays it on purpose. Event
    positions commit out of order, so a position is only a start mark, never
    a cursor: ``swept_to`` is how far the sweep has checked that every event
    after the start has its delivery. ``pruned_to`` is how far retention
    has deleted settled deliveries: before it, the ledger no longer knows
    what ran, so a replay from there would run the policy again.
    """

    name = models.CharField(max_length=200, unique=True, help_text="The policy's name, as registered.")
    starts_after = models.BigIntegerField(default=0, help_text="Events at or before this position are not owed.")
    swept_to = models.BigIntegerField(default=0, help_text="Events up to here were checked by the sweep.")
    pruned_to = models.BigIntegerField(
        default=0, help_text="Settled deliveries of events up to here may have been pruned: a replay needs --force."
    )
    aliases = models.JSONField(  # noqa: DJ001 -- NULL from the release before, which knows no aliases: none
        default=list,
        null=True,
        blank=True,
        help_text="Names the policy had before (a rename): their deliveries count as its own, for every release.",
    )
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="When a release declared the policy retired: nothing is opened for it since."
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} after #{self.starts_after}"


class Worker(models.Model):
    """A running worker (a relay, a Celery worker) and what it can run: each
    policy name it answers to, with the newest version of the event type
    it reads. Renewed while it runs (``MESSAGING_WORKER_ANNOUNCE_SECONDS``)
    and deleted when it stops; one not renewed for
    ``MESSAGING_WORKER_LEASE_SECONDS`` is gone. What lets the kernel say that
    no running worker knows a delivery (``delivery.workers.unknown``)."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid and kind, e.g. web-1:4242 relay.")
    knows = models.JSONField(default=dict, help_text="Policy name (or alias) -> newest event version it reads.")
    seen_at = models.DateTimeField(help_text="The last announcement, by the database's clock.")
    started_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class ScheduledCommand(models.Model):
    """A command that waits for its time: dispatched by the relay once
    ``not_before`` has come, exactly once, unless cancelled first.

    Written in the transaction of the command whose handler scheduled it
    (``scheduled_by``), so a schedule exists exactly when that command's
    effects do. ``key`` names it for whoever may cancel it (the order's
    confirmation cancels ``ExpireOrder:<order id>``); at most one schedule
    of a key waits at a time. The command is stored as its type and payload,
    and only a command registered as schedulable, which carries no secret.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "waiting for its time"
        DONE = "done", "dispatched"
        CANCELLED = "cancelled", "cancelled"
        DEAD = "dead", "dead-lettered"

    schedule_id = models.UUIDField(unique=True, editable=False, help_text="The cause its command names.")
    key = models.CharField(max_length=200, help_text="What cancels it names it by.")
    command_type = models.CharField(max_length=100)
    payload = models.JSONField()
    not_before = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status, default=Status.WAITING)
    correlation_id = models.UUIDField(db_index=True)
    scheduled_by = models.UUIDField(help_text="The command in whose transaction it was scheduled.")
    actor_id = models.UUIDField(null=True, blank=True, help_text="Who sent the command that scheduled it.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When it was dispatched or cancelled.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(status="waiting"), name="one_waiting_schedule_per_key"
            )
        ]
        indexes = [models.Index(fields=["status", "not_before"], name="schedule_due")]

    def __str__(self):
        return f"{self.command_type} [{self.key}] not before {self.not_before:%Y-%m-%d %H:%M:%S} ({self.status})"


class Sweep(models.Model):
    """When a sweep last ran (``schedules``: the relay's round or Celery's
    beat), by the database's clock: a dead beat shows as a sweep that is
    late, even while nothing is overdue yet."""

    name = models.CharField(max_length=100, unique=True)
    swept_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} swept at {self.swept_at:%Y-%m-%d %H:%M:%S}"


class PersonalDataKey(models.Model):
    """The key one person's data is sealed with (``messaging.personal``).

    ``key`` is the data key, wrapped by the wrapping key ``wrapped_with``
    names (one of ``conf.MESSAGING_PERSONAL_DATA_KEYS``, never stored). Forgetting
    the person empties it: every copy sealed with it is unreadable from that
    commit on, and the row stays, so what is sealed for them later is stored
    as its placeholder instead of under a new key.
    """

    subject = models.UUIDField(primary_key=True, help_text="The account whose data the key seals.")
    key = models.BinaryField(null=True, help_text="The wrapped data key; empty once the person is forgotten.")
    wrapped_with = models.CharField(max_length=16, blank=True, help_text="Which wrapping key wrapped it.")
    created_at = models.DateTimeField(default=timezone.now)
    forgotten_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "personal data key"

    def __str__(self):
        return f"key of {self.subject}" + (" (forgotten)" if self.forgotten_at else "")
