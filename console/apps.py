from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The kernel's own screens, beside the contexts: the event log and
    deliveries API, the trace pages, the kernel's rows in the admin, and the
    health endpoints. It registers no handler and no policy."""

    name = "console"
    verbose_name = "Console (the kernel's log, trace and health)"
