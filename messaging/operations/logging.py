"""Log plumbing: every record carries the correlation id of its request,
a request's line its method, path and status as fields, and one function
builds the logging configuration, readable text or JSON lines (dated in
ISO-8601 UTC), for Django's settings and gunicorn alike."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

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


class RequestFieldsFilter(logging.Filter):
    """Adds ``method``, ``path`` and ``status`` (and ``duration_ms`` where
    it is known) to the lines about one request: Django's warnings for a
    4xx or 5xx (``django.request``), gunicorn's access lines and
    runserver's (``django.server``). Elsewhere it adds nothing."""

    def filter(self, record):
        request, args = getattr(record, "request", None), record.args
        if isinstance(args, Mapping) and "m" in args and "U" in args:  # gunicorn's access atoms
            record.method, record.path = args["m"], args["U"]
            record.status, record.duration_ms = _status(args.get("s")), args.get("D", 0) / 1000
        elif record.name == "django.server" and isinstance(args, tuple) and args:
            # its args are the request line, the status and the size
            method, _, rest = str(args[0]).partition(" ")
            record.method, record.path = method, rest.rsplit(" ", 1)[0].partition("?")[0]
            record.status = getattr(record, "status_code", None)
        elif hasattr(request, "method") and hasattr(request, "path"):
            record.method, record.path = request.method, request.path
            record.status = getattr(record, "status_code", None)
        return True


def _status(status) -> int | None:
    try:
        return int(status)
    except (TypeError, ValueError):
        return None


class UtcJsonFormatter(JsonFormatter):
    """JSON lines whose ``time`` is ISO-8601 in UTC to the millisecond:
    ``2026-12-07T11:00:00.123Z``, whatever the host's zone."""

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        moment = datetime.fromtimestamp(record.created, UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z"


def logging_config(fmt: str, *, messaging_level: str = "INFO", extra_loggers: tuple[str, ...] = ()) -> dict:
    """A ``dictConfig`` dict sending every logger's lines to one console
    handler (stderr), as ``text`` (readable lines) or ``json`` (one object a
    line: time in ISO-8601 UTC, level, logger, correlation id, message, and
    the facts as fields: a command's ``command``, ``outcome`` and
    ``duration_ms``, a delivery's ``policy``, a request's ``method``,
    ``path`` and ``status``...).

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
            "()": "messaging.operations.logging.UtcJsonFormatter",
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
        "filters": {
            "correlation": {"()": "messaging.operations.logging.CorrelationIdFilter"},
            "request": {"()": "messaging.operations.logging.RequestFieldsFilter"},
        },
        "formatters": {"console": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["correlation", "request"],
                "formatter": "console",
            },
        },
        "root": {"level": "WARNING", "handlers": ["console"]},
        "loggers": loggers,
    }
