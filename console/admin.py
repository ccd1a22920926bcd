"""The kernel's rows in the admin: the event log, deliveries, schedules and
idempotency records, for inspection. Rows here are facts: nobody edits
them; dead letters are retried or discarded, schedules cancelled, by
actions."""

from django.contrib import admin, messages

from interfaces.admin import ReadOnlyAdmin, dispatch_each, trace_link
from messaging.features.schedules import CancelSchedule
from messaging.models import Delivery, IdempotentResponse, ProcessedCommand, ScheduledCommand, StoredEvent
from messaging.operations import dead_letters


@admin.register(StoredEvent)
class StoredEventAdmin(ReadOnlyAdmin):
    """Filter by correlation id with ``?correlation_id=<uuid>`` (the trace page links here)."""

    list_display = ["position", "type", "command_type", "trace", "occurred_at"]
    list_filter = ["type", "is_rejection", "command_type", "policy"]
    search_fields = ["type", "command_type", "correlation_id", "event_id", "command_id"]
    readonly_fields = ["trace"]
    ordering = ["-position"]
    list_per_page = 50

    @admin.display(description="correlation (trace)")
    def trace(self, event: StoredEvent) -> str:
        return trace_link(event.correlation_id)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Filter by correlation id with ``?event__correlation_id=<uuid>``."""

    list_display = ["pk", "policy", "event_type", "status", "attempts", "outside", "trace", "next_attempt_at"]
    list_filter = ["status", "outside", "policy", "event__type"]
    search_fields = ["policy", "event__type", "event__correlation_id", "last_error"]
    list_select_related = ["event"]
    readonly_fields = ["event_type", "trace"]
    ordering = ["-pk"]
    actions = ["retry", "discard"]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "event__correlation_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="event", ordering="event__type")
    def event_type(self, row: Delivery) -> str:
        return row.event.type

    @admin.display(description="correlation (trace)")
    def trace(self, row: Delivery) -> str:
        return trace_link(row.event.correlation_id)

    @admin.action(description="Retry the selected dead-lettered deliveries", permissions=["operate"])
    def retry(self, request, queryset):
        dead = dead_letters.dead_among(queryset.values_list("pk", flat=True))
        if not dead:
            self.message_user(request, "None of the selected deliveries is dead-lettered.", messages.WARNING)
            return
        queued = dead_letters.retry(dead)  # run by the relay workers, never in this request
        self.message_user(
            request, f"Queued {queued} dead-lettered deliveries for the relay, with fresh attempts.", messages.SUCCESS
        )

    @admin.action(description="Discard the selected dead-lettered deliveries", permissions=["operate"])
    def discard(self, request, queryset):
        """Give up on the selected dead letters: the rows stay, marked discarded."""
        dead = dead_letters.dead_among(queryset.values_list("pk", flat=True))
        if not dead:
            self.message_user(request, "None of the selected deliveries is dead-lettered.", messages.WARNING)
            return
        discarded = dead_letters.discard(dead)
        self.message_user(
            request, f"Discarded {discarded} dead-lettered deliveries; they stay listed as discarded.", messages.SUCCESS
        )


@admin.register(ScheduledCommand)
class ScheduledCommandAdmin(ReadOnlyAdmin):
    """Commands waiting for their time, and what became of them."""

    list_display = ["pk", "command_type", "key", "status", "not_before", "attempts", "trace", "settled_at"]
    list_filter = ["status", "command_type"]
    search_fields = ["key", "command_type", "correlation_id", "last_error"]
    readonly_fields = ["trace"]
    ordering = ["-pk"]
    actions = ["cancel"]

    @admin.display(description="correlation (trace)")
    def trace(self, row: ScheduledCommand) -> str:
        return trace_link(row.correlation_id)

    @admin.action(description="Cancel the selected waiting schedules", permissions=["operate"])
    def cancel(self, request, queryset):
        waiting = queryset.filter(status=ScheduledCommand.Status.WAITING)
        dispatch_each(
            self, request, ((row.key, CancelSchedule(key=row.key)) for row in waiting), "Cancelled {count} schedules."
        )


@admin.register(ProcessedCommand)
class ProcessedCommandAdmin(ReadOnlyAdmin):
    list_display = ["command_type", "idempotency_key", "actor", "created_at"]
    list_filter = ["command_type"]
    search_fields = ["idempotency_key", "actor", "command_type"]


@admin.register(IdempotentResponse)
class IdempotentResponseAdmin(ReadOnlyAdmin):
    """The stored HTTP answers replayed for a repeated ``Idempotency-Key``."""

    list_display = ["idempotency_key", "actor", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["idempotency_key", "actor"]
