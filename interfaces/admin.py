"""The admin's bases: rows shown, never edited (``ReadOnlyAdmin``), and
changes made by actions that dispatch commands (``dispatch_each``)."""

from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.urls import reverse
from django.utils.html import format_html

from messaging.messages import Command

from .pages import dispatch_for, refusal_message


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows shown, never added, edited or deleted here: an edit would bypass
    the rules and leave no event. Actions (allowed with the model's "change"
    permission) dispatch commands instead."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_operate_permission(self, request):
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


def dispatch_each(model_admin, request, commands: Iterable[tuple[str, Command]], done: str) -> None:
    """Dispatch one command per selected row (``(label, command)`` pairs);
    report how many went through, and each refusal with its row's label."""
    succeeded = 0
    for label, command in commands:
        result = dispatch_for(request, command)
        if result.rejection:
            refusal = f"Refused for {label}: {refusal_message(result.rejection)}"
            model_admin.message_user(request, refusal, messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        model_admin.message_user(request, done.format(count=succeeded), messages.SUCCESS)


def trace_link(correlation_id) -> str:
    """A link to the trace page of ``correlation_id``, read "trace 1a2b3c4d…"
    and named in full for assistive technology and in its tooltip (a
    shortened id alone says nothing of where the link goes)."""
    return format_html(
        '<a href="{}" aria-label="Trace of {}" title="Trace of {}">trace {}…</a>',
        reverse("console:trace", args=[correlation_id]),
        correlation_id,
        correlation_id,
        str(correlation_id)[:8],
    )
