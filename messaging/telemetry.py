"""The kernel's spans and metrics for OpenTelemetry, and nothing without it.

One span per dispatch (``command BlockAccount``) and one per delivery
(``deliver AccountBlocked to accounts.policies.remove_follows_on_block``),
named in the domain's words and carrying its ids: the command's and the
event's types, the correlation, causation and command ids, the actor, and
the outcome (a command ``done``, ``refused`` with its code, or ``failed``;
a delivery ``done``, ``failed``, ``dead``, or, rarely, ``aborted`` by a
conflict that runs it again or ``lease_lost`` by an outside effect that
outlived its lease).
Beside them, the latency of dispatches and deliveries (histograms) and the
outbox's figures that ``/health/`` reports (observable gauges).

OpenTelemetry is optional (``requirements/otel.txt``): its import is
guarded here, once, and nothing happens until the configuration layer
calls ``install`` with its providers (``config.telemetry``, when the
``OTEL_*`` environment asks for an export). Until then ``trace_dispatch``
costs a function call and ``delivering`` hands back one shared object that
does nothing.
"""

import logging
import time
from uuid import UUID

from django.db import DatabaseError, connection

from .messages import Command, Next, Result

try:
    from opentelemetry import trace
    from opentelemetry.metrics import Observation
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the optional set is not installed: every function here does nothing
    trace = None

logger = logging.getLogger(__name__)

PREFIX = "domain."  # the attributes' namespace, apart from OpenTelemetry's own conventions
_FIGURES_SECONDS = 1.0  # the three gauges of one collection share one read of the outbox

_tracer = None
_dispatch_latency = None
_delivery_latency = None


def install(tracer_provider, meter_provider) -> None:
    """Start making the kernel's spans and metrics with these providers."""
    global _tracer, _dispatch_latency, _delivery_latency
    if trace is None:
        return
    _tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
    meter = meter_provider.get_meter(__name__)
    _dispatch_latency = meter.create_histogram(
        "domain.command.duration", unit="s", description="A command's dispatch, its transaction and commit included"
    )
    _delivery_latency = meter.create_histogram(
        "domain.delivery.duration", unit="s", description="One delivery: the policy and the commands it issued"
    )
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


def uninstall() -> None:
    """Make no more spans or metrics (a test's clean-up)."""
    global _tracer, _dispatch_latency, _delivery_latency
    _tracer = _dispatch_latency = _delivery_latency = None


def installed() -> bool:
    """Whether the kernel makes spans and metrics now."""
    return _tracer is not None


def current_trace_id() -> str:
    """The id of the OpenTelemetry trace this thread is in (32 hex digits),
    or ``""`` outside one; what the event store records beside the
    correlation id."""
    if _tracer is None:
        return ""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def trace_dispatch(command: Command, call_next: Next) -> Result:
    """The outermost layer of the bus: one span around the whole dispatch
    (retries, the transaction, its commit and what runs on commit, so a
    hand-off to the queue is published inside it and the worker joins the
    trace), and its latency."""
    if _tracer is None:
        return call_next(command)
    name = command.type_name()
    attributes = {
        f"{PREFIX}command.type": name,
        f"{PREFIX}command.id": str(command.command_id),
        f"{PREFIX}correlation_id": str(command.correlation_id),
    }
    if command.causation_id is not None:
        attributes[f"{PREFIX}causation_id"] = str(command.causation_id)
    if command.actor_id is not None:
        attributes[f"{PREFIX}actor_id"] = str(command.actor_id)
    started = time.perf_counter()
    with _tracer.start_as_current_span(f"command {name}", attributes=attributes) as span:
        outcome = {f"{PREFIX}outcome": "failed"}  # unless it returns: the span records the exception on its way out
        try:
            result = call_next(command)
            outcome[f"{PREFIX}outcome"] = "refused" if result.rejection else "done"
            if result.rejection:
                span.set_attribute(f"{PREFIX}refusal_code", result.rejection.code)
            if result.replayed:
                span.set_attribute(f"{PREFIX}replayed", True)
            return result
        finally:
            span.set_attributes(outcome)
            _dispatch_latency.record(time.perf_counter() - started, {f"{PREFIX}command.type": name, **outcome})


class _NoSpan:
    """What ``delivering`` hands back without OpenTelemetry: does nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def outcome(self, status: str | None, error: Exception | None = None) -> None:
        """Nothing to record."""


_NO_SPAN = _NoSpan()


class _DeliverySpan:
    """The span of one delivery; ``outcome`` records how it ended."""

    def __init__(self, delivery_id: int, event_type: str, policy: str, correlation_id: UUID, event_id: UUID):
        self.name = f"deliver {event_type} to {policy}"
        self.metric = {f"{PREFIX}event.type": event_type, f"{PREFIX}policy": policy}
        self.attributes = {
            **self.metric,
            f"{PREFIX}delivery.id": delivery_id,
            f"{PREFIX}event.id": str(event_id),
            f"{PREFIX}correlation_id": str(correlation_id),
        }
        self.status = None

    def __enter__(self):
        self.started = time.perf_counter()
        self.context = _tracer.start_as_current_span(self.name, attributes=self.attributes)
        self.span = self.context.__enter__()
        return self

    def __exit__(self, *exc):
        # No outcome: an error left the delivery's transaction (a conflict,
        # which runs it again at once), so nothing of this attempt was kept.
        outcome = self.status or "aborted"
        _delivery_latency.record(time.perf_counter() - self.started, {**self.metric, f"{PREFIX}outcome": outcome})
        return self.context.__exit__(*exc)

    def outcome(self, status: str | None, error: Exception | None = None) -> None:
        """How the delivery ended: its new status (``None``: not this
        worker's to mark any more, its lease lost), and the policy's error
        if any."""
        self.status = status or "lease_lost"
        self.span.set_attribute(f"{PREFIX}outcome", self.status)
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


def delivering(delivery_id: int, event_type: str, policy: str, correlation_id: UUID, event_id: UUID):
    """A context manager around one delivery's run: its span, and latency."""
    if _tracer is None:
        return _NO_SPAN
    return _DeliverySpan(delivery_id, event_type, policy, correlation_id, event_id)


class _OutboxFigures:
    """The outbox's figures for the gauges: ``queries.backlog``, the query
    behind ``/health/``, read at most once a second (the three gauges of one
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

    def _observe(self, name: str):
        if time.monotonic() - self._read_at >= _FIGURES_SECONDS:
            self._read_at, self._figures = time.monotonic(), self._read()
        value = None if self._figures is None else getattr(self._figures, name)
        return [] if value is None else [Observation(value)]

    def _read(self):
        # Imported here, not with the module: the configuration imports this
        # module before the app registry is ready (gunicorn's post_fork), and
        # the queries import the models.
        from . import queries

        try:
            return queries.backlog()
        except DatabaseError as error:
            logger.warning("the outbox's figures cannot be read for the gauges: %s", error)
            return None
        finally:
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()
