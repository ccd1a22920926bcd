"""The kernel's rows in the admin: the event log, deliveries, schedules and
idempotency records, for inspection. Rows here are facts: nobody edits
them; deliveries are retried, skipped or discarded, schedules cancelled, by
actions (``messaging.operations.deliveries`` for the deliveries)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from interfaces.admin import ReadOnlyAdmin, dispatch_each, trace_link
from messaging.features.schedules import CancelSchedule
from messaging.models import Delivery, IdempotentResponse, ProcessedCommand, ScheduledCommand, StoredEvent
from messaging.operations import deliveries as operations


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
    actions = ["retry", "skip", "discard"]
    date_hierarchy = "created_at"  # a time window, with the policy filter: "select all" then an action

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "event__correlation_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="event", ordering="event__type")
    def event_type(self, row: Delivery) -> str:
        return row.event.type

    @admin.display(description="correlation (trace)")
    def trace(self, row: Delivery) -> str:
        return trace_link(row.event.correlation_id)

    @admin.action(description="Retry now the selected failed or dead deliveries…", permissions=["operate"])
    def retry(self, request, queryset):
        """Make them due at once, for the relay workers (never run in this request)."""
        return self._operate(request, queryset, operations.Operation.RETRY)

    @admin.action(description="Skip the selected waiting deliveries…", permissions=["operate"])
    def skip(self, request, queryset):
        """Settle them without running them, with the reason asked for."""
        return self._operate(request, queryset, operations.Operation.SKIP)

    @admin.action(description="Discard the selected dead-lettered deliveries…", permissions=["operate"])
    def discard(self, request, queryset):
        """Give up on the selected dead letters: the rows stay, marked discarded."""
        return self._operate(request, queryset, operations.Operation.DISCARD)

    def _operate(self, request, queryset, operation: operations.Operation):
        """First the dry run (an intermediate page: how many would change, the
        first few, and a reason), then, confirmed, the operation in batches,
        each a command with the signed-in operator as its actor. With "select
        all", the whole filtered list (a policy, a time window) is meant."""
        selection = operations.Selection(within=queryset)
        form = OperationForm(request.POST if "confirm" in request.POST else None, operation=operation)
        if form.is_valid():
            outcome = operations.run(
                operation,
                selection,
                actor_id=request.user.pk,
                reason=form.cleaned_data["reason"],
                correlation_id=getattr(request, "correlation_id", None),
            )
            level = messages.SUCCESS if outcome.acted else messages.WARNING
            self.message_user(request, _DONE[operation].format(count=len(outcome.acted)), level)
            for refusal in outcome.refused:
                self.message_user(request, f"Left alone: {refusal}", messages.WARNING)
            return None
        planned = operations.preview(operation, selection)
        if not planned.count:
            self.message_user(request, _NONE[operation], messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"{operation.capitalize()} deliveries",
            "opts": self.opts,
            "operation": operation,
            "planned": planned,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/messaging/delivery/operate.html", context)


class OperationForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, help_text="Recorded with the operation.")

    def __init__(self, *args, operation: operations.Operation, **kwargs):
        super().__init__(*args, **kwargs)
        if operation == operations.Operation.SKIP:
            self.fields["reason"].required = True
            self.fields["reason"].help_text = "Required: a skip is a decision, recorded with its reason."


_DONE = {
    operations.Operation.RETRY: "Queued {count} failed or dead deliveries for the relay, due now.",
    operations.Operation.SKIP: "Skipped {count} deliveries; each row keeps who skipped it and why.",
    operations.Operation.DISCARD: "Discarded {count} dead-lettered deliveries; they stay listed as discarded.",
}
_NONE = {
    operations.Operation.RETRY: "None of the selected deliveries is failed or dead-lettered (or free to retry).",
    operations.Operation.SKIP: "None of the selected deliveries is waiting (or free to skip).",
    operations.Operation.DISCARD: "None of the selected deliveries is dead-lettered.",
}


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
