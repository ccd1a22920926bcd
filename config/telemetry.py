"""OpenTelemetry, opt-in: set up once per process from the SDK's own ``OTEL_*``
environment variables, and not at all without them.

It is on when an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``, or the
``..._TRACES_ENDPOINT`` / ``..._METRICS_ENDPOINT`` of one signal) or an
exporter (``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``: ``otlp``,
``console``, ``none``) is named, unless ``OTEL_SDK_DISABLED=true``. A signal
whose exporter is not named is sent over OTLP when an endpoint is set, and
not at all otherwise. Everything else (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, the batch and
export intervals, sampling through ``OTEL_TRACES_SAMPLER``) is read by the
SDK itself. Without the optional packages (``requirements/otel.txt``) it
says so in the log and stays off.

What is turned on: Django's requests, psycopg's queries, Celery's publishes
and task runs (the trace context travels in the message headers, so a
worker's spans join the request's trace), and the kernel's own spans and
metrics (``messaging.telemetry``).

Called where each process is its own (``setup``): in a gunicorn worker
after the fork (``post_fork`` in ``config/gunicorn.py``), in each Celery
pool process (``worker_process_init`` in ``config/celery.py``) and by
``manage.py`` (the relay loop among its commands). A process set up before
a fork would leave its children without the exporting threads.
"""

import logging
import os
import time

from django.db import DatabaseError, connection

from config.access_log import redact
from messaging import telemetry as kernel

logger = logging.getLogger(__name__)

_ENDPOINTS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)
_EXPORTERS = {"traces": "OTEL_TRACES_EXPORTER", "metrics": "OTEL_METRICS_EXPORTER"}
# Probes every few seconds from each load balancer are not worth a trace each.
_DEFAULT_EXCLUDED_URLS = "health"

_FIGURES_SECONDS = 1.0  # the three gauges of one collection share one read of the outbox

_set_up = False


def wanted(environ=os.environ) -> bool:
    """Whether the environment asks for an export at all."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in (*_ENDPOINTS, *_EXPORTERS.values()))


def setup() -> bool:
    """Set up the SDK from the environment and turn the instrumentations on,
    once per process; whether this call did."""
    global _set_up
    if _set_up or not wanted():
        return False
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning("OTEL_* is set but OpenTelemetry is not installed (requirements/otel.txt): nothing is exported")
        return False
    _set_up = True
    resource = Resource.create()
    tracer_provider = TracerProvider(resource=resource)
    for exporter in _exporters("traces"):
        tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    readers = [PeriodicExportingMetricReader(exporter) for exporter in _exporters("metrics")]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    instrument(tracer_provider, meter_provider)
    return True


def instrument(tracer_provider, meter_provider) -> None:
    """Turn on Django's, psycopg's and Celery's instrumentations and the
    kernel's spans and metrics, with these providers (``setup``'s, or a
    test's with an in-memory exporter)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    excluded = {}
    if not any(os.environ.get(name) for name in ("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS")):
        excluded["excluded_urls"] = _DEFAULT_EXCLUDED_URLS
    DjangoInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, response_hook=_tag_request, **excluded
    )
    PsycopgInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    CeleryInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    kernel.install(tracer_provider, meter_provider)
    _observe_outbox(meter_provider)


def uninstrument() -> None:
    """Turn every instrumentation off again (a test's clean-up)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    kernel.uninstall()
    for instrumentor in (CeleryInstrumentor(), PsycopgInstrumentor(), DjangoInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


def _tag_request(span, request, response) -> None:
    """The request's span carries its correlation id, like every span under
    it, and no URL secret (a reset link's token: ``config.access_log``)."""
    if not span.is_recording():
        return
    correlation_id = getattr(request, "correlation_id", None)
    if correlation_id is not None:
        span.set_attribute(f"{kernel.PREFIX}correlation_id", str(correlation_id))
    for name in _URL_ATTRIBUTES:
        value = span.attributes.get(name) if span.attributes else None
        if isinstance(value, str) and (redacted := redact(value)) != value:
            span.set_attribute(name, redacted)


_URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "url.query", "http.route")


def _exporters(signal: str) -> list:
    """The exporters the environment names for ``signal`` (``traces`` or
    ``metrics``), by the SDK's entry points; ``otlp`` is OTLP over HTTP,
    the one protocol installed."""
    from importlib.metadata import entry_points

    default = "otlp" if any(os.environ.get(name, "").strip() for name in _ENDPOINTS) else "none"
    names = [name.strip() for name in os.environ.get(_EXPORTERS[signal], default).split(",") if name.strip()]
    exporters = []
    for name in names:
        if name == "none":
            continue
        found = entry_points(
            group=f"opentelemetry_{signal}_exporter", name="otlp_proto_http" if name == "otlp" else name
        )
        if not found:
            logger.warning("no OpenTelemetry %s exporter named %r is installed", signal, name)
            continue
        exporters.append(next(iter(found)).load()())
    return exporters


def _observe_outbox(meter_provider) -> None:
    """The outbox's figures that ``/health/`` reports, as gauges read on the
    metric reader's own thread."""
    meter = meter_provider.get_meter("messaging.telemetry")
    figures = _OutboxFigures()
    meter.create_observable_gauge(
        "domain.deliveries.backlog", [figures.backlog], unit="{delivery}", description="Open deliveries due now"
    )
    meter.create_observable_gauge(
        "domain.deliveries.oldest_due_age",
        [figures.oldest_due],
        unit="s",
        description="How long the longest-waiting due delivery has been due",
    )
    meter.create_observable_gauge(
        "domain.deliveries.dead", [figures.dead], unit="{delivery}", description="Dead letters awaiting an operator"
    )
    for name, field, unit, description in _PER_LANE:
        meter.create_observable_gauge(
            f"domain.deliveries.lag.{name}", [figures.per_lane(field)], unit=unit, description=description
        )


_PER_LANE = [
    ("waiting", "waiting", "{delivery}", "Open deliveries of a policy on a lane"),
    ("failed", "failed", "{delivery}", "Of those, the ones waiting for their retry"),
    ("held", "held", "{delivery}", "Of those, the ones held back by an earlier one of their ordering key"),
    ("oldest_due_age", "oldest_due_seconds", "s", "How long a policy's oldest due delivery has waited"),
    ("done_rate", "per_minute", "{delivery}/min", "Deliveries a policy had done per minute, last 5 minutes"),
]
"""The lag of each policy on each lane (``metrics.lag``), one gauge per
figure, with the policy and the lane as attributes."""


class _OutboxFigures:
    """The outbox's figures for the gauges: ``backlog`` and ``lag``, the
    queries behind ``/health/``, read at most once a second (the gauges of one
    collection ask in turn) on the metric reader's own thread, whose
    connection is closed when obsolete as a request's would be."""

    def __init__(self):
        self._read_at, self._figures = float("-inf"), None

    def backlog(self, _options):
        return self._observe("due")

    def oldest_due(self, _options):
        return self._observe("oldest_due_seconds")

    def dead(self, _options):
        return self._observe("dead")

    def per_lane(self, field: str):
        """The callback of one per-lane gauge: one observation per policy and lane."""

        def observe(_options):
            self._refresh()
            if self._figures is None:
                return []
            return [
                _observation(getattr(row, field) or 0, {"policy": row.policy, "lane": row.lane})
                for row in self._figures[1]
            ]

        return observe

    def _observe(self, name: str):
        self._refresh()
        value = None if self._figures is None else getattr(self._figures[0], name)
        return [] if value is None else [_observation(value)]

    def _refresh(self) -> None:
        if time.monotonic() - self._read_at >= _FIGURES_SECONDS:
            self._read_at, self._figures = time.monotonic(), self._read()

    def _read(self):
        # Imported here, not with this module: gunicorn's post_fork sets
        # telemetry up before the app registry is ready, and the figures
        # read the models.
        from messaging.operations.metrics import backlog, lag

        try:
            return backlog(), lag()
        except DatabaseError as error:
            logger.warning("the outbox's figures cannot be read for the gauges: %s", error)
            return None
        finally:
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()


def _observation(value, attributes: dict | None = None):
    from opentelemetry.metrics import Observation

    return Observation(value, attributes)
