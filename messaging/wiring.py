"""The kernel's own routes: its events, the mail outbox, its consistency rules."""

from messaging.registry import Registry

from . import invariants, messages, outbox, refusals, schedules


def register(registry: Registry) -> None:
    registry.register_events(messages.IdempotencyKeyReused, messages.CommandRejected)
    registry.register_refusals(refusals.KernelRefusal)

    registry.register_handler(outbox.QueueMail, outbox.queue_mail)
    registry.register_events(outbox.MailQueued)
    registry.subscribe(outbox.MailQueued, outbox.send_queued_mail, outside=True)

    registry.register_handler(schedules.CancelSchedule, schedules.cancel_schedule)
    registry.register_events(schedules.ScheduleCancelled, schedules.ScheduleRejected)

    registry.register_invariant(invariants.every_event_has_its_deliveries)
    registry.register_invariant(invariants.no_delivery_is_dead_lettered)
