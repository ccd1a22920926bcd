"""The kernel's own routes: its events, the mail outbox, schedules, erasures, its consistency rules."""

from messaging.registry import Registry

from . import erasure, invariants, messages, outbox, refusals, schedules


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused, messages.CommandRejected)
    registry.register_refusals(refusals.KernelRefusal)

    registry.register_handler(outbox.QueueMail, outbox.queue_mail)
    registry.register_events(outbox.MailQueued)
    registry.subscribe(outbox.MailQueued, outbox.send_queued_mail, outside=True)
    registry.register_handler(outbox.QueueRenderedMail, outbox.queue_rendered_mail)
    registry.register_events(outbox.RenderedMailQueued)
    registry.subscribe(outbox.RenderedMailQueued, outbox.send_rendered_mail, outside=True)

    registry.register_handler(schedules.CancelSchedule, schedules.cancel_schedule)
    registry.register_events(schedules.ScheduleCancelled, schedules.ScheduleRejected)

    registry.register_handler(erasure.EraseCopies, erasure.erase_copies)
    registry.register_handler(erasure.EraseBatch, erasure.erase_batch)
    registry.register_events(erasure.CopiesErased, erasure.ErasureCompleted)
    registry.subscribe(erasure.ErasureBatchScheduled, erasure.erase_next_batch)

    registry.register_invariant(invariants.every_event_has_its_deliveries)
    registry.register_invariant(invariants.no_delivery_is_dead_lettered)
    registry.register_invariant(invariants.no_schedule_is_dead_lettered)
