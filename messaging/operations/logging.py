"""Log plumbing: every record carries the correlation id of its request,
and one function builds the logging configuration, readable text or JSON
lines, for Django's settings and gunicorn alike."""

import logging
from collections.abc import Mapping

from pythonjsonlogger.core import RESERVED_ATTRS

from ..ambient import current_client_correlation_id, current_correlation_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
# gunicorn's name for the atom of a response header, in its access records' args.
_GUNICORN_CORRELATION_ATOM = "{x-correlation-id}o"


class CorrelationIdFilter(logging.Filter):
    """Adds ``correlation_id`` to each record ("-" outside any request or
    command), and ``client_correlation_id`` when the request's client sent one.

    Inside a request or a command it is the current one. Some lines come
    after the request's middleware has unwound, when nothing is current:
    Django's ``django.request`` warnings for a 4xx or 5xx response carry the
    request itself, and gunicorn's access lines carry the response's headers
    among their atoms, so the id is read from those.
    """

    def filter(self, record):
        correlation_id = current_correlation_id.get() or getattr(
            getattr(record, "request", None), "correlation_id", None
        )
        if correlation_id is None and isinstance(record.args, Mapping):
            try:
                correlation_id = record.args[_GUNICORN_CORRELATION_ATOM]
            except KeyError:
                pass
        record.correlation_id = str(correlation_id) if correlation_id else "-"
        client_id = current_client_correlation_id.get() or getattr(
            getattr(record, "request", None), "client_correlation_id", None
        )
        if client_id:  # a field of its own in JSON lines; a client's id is never taken for ours
            record.client_correlation_id = client_id
        return True


def logging_config(fmt: str, *, messaging_level: str = "INFO", extra_loggers: tuple[str, ...] = ()) -> dict:
    """A ``dictConfig`` dict sending every logger's lines to one console
    handler (stderr), as ``text`` (readable lines) or ``json`` (one object a
    line: time, level, logger, correlation id, message and any extras).

    Named loggers have no handler of their own and propagate to the root's,
    so each line is written once, and tests' ``caplog`` still sees them.
    ``extra_loggers`` (gunicorn's) are routed the same way at INFO.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {fmt!r}")
    formatter = (
        {"format": TEXT_FORMAT}
        if fmt == "text"
        else {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "correlation_id", "message"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # The request object Django attaches to its lines is no field to print.
            "reserved_attrs": [*RESERVED_ATTRS, "request"],
        }
    )
    # Propagating loggers drop the handlers Django's defaults gave them.
    loggers = {
        "django": {"level": "INFO", "handlers": []},
        "django.request": {"level": "INFO", "handlers": []},
        "messaging": {"level": messaging_level, "handlers": []},
    } | {name: {"level": "INFO", "handlers": [], "propagate": True} for name in extra_loggers}
    if fmt == "json":
        # runserver's request lines too (text keeps Django's own for them).
        loggers["django.server"] = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": "messaging.operations.logging.CorrelationIdFilter"}},
        "formatters": {"console": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["correlation"], "formatter": "console"},
        },
        "root": {"level": "WARNING", "handlers": ["console"]},
        "loggers": loggers,
    }
