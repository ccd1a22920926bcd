"""The kernel's own routes: its events, the mail outbox, schedules, its consistency rules."""

from messaging.registry import Registry

from . import messages, refusals
from .features import erasure, outbox, schedules
from .operations import deliveries, invariants


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused, messages.CommandRejected)
    registry.register_refusals(refusals.KernelRefusal)

    registry.register_handler(outbox.QueueMail, outbox.queue_mail)
    registry.register_events(outbox.MailQueued)
    registry.subscribe(
        outbox.MailQueued,
        outbox.send_queued_mail,
        outside=True,
        name=outbox.SENDING,
        ordered_by=outbox.sending_order,
    )

    registry.register_handler(schedules.CancelSchedule, schedules.cancel_schedule)
    registry.register_events(schedules.ScheduleCancelled, schedules.ScheduleRejected)

    # An operator's decisions on deliveries, recorded as commands with their actor.
    registry.register_handler(deliveries.RetryDeliveries, deliveries.retry_deliveries)
    registry.register_handler(deliveries.SkipDeliveries, deliveries.skip_deliveries)
    registry.register_handler(deliveries.DiscardDeliveries, deliveries.discard_deliveries)
    registry.register_events(
        deliveries.DeliveriesRetried,
        deliveries.DeliveriesSkipped,
        deliveries.DeliveriesDiscarded,
        deliveries.DeliveryOperationRejected,
    )

    # Facts of the erasures that searched for copies before crypto-shredding: history, still loadable.
    registry.register_events(erasure.ErasureBatchScheduled, erasure.CopiesErased, erasure.ErasureCompleted)

    registry.register_invariant(invariants.every_event_has_its_deliveries)
    registry.register_invariant(invariants.no_delivery_is_dead_lettered)
    registry.register_invariant(invariants.no_schedule_is_dead_lettered)
    registry.register_invariant(invariants.no_schedule_is_overdue)
    registry.register_warning(invariants.the_schedules_are_swept)
    registry.register_warning(invariants.no_delivery_is_held)
    registry.register_warning(invariants.every_open_delivery_has_a_worker)
    registry.register_invariant(invariants.every_stored_event_loads)
