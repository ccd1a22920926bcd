"""The kernel's spans and metrics for OpenTelemetry, and nothing without it.

One span per dispatch (``command BlockAccount``) and one per delivery
(``deliver AccountBlocked to <policy>``), in the domain's words and ids,
and their latencies. OpenTelemetry is optional: its import is guarded here,
once, and nothing happens until ``config.telemetry`` calls ``install``. See
docs/architecture.md, "Telemetry".
"""

import logging
import time
from uuid import UUID

from .messages import Command, Next, Result
from .refusal_rule import RunWithSavepoints

try:
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the optional set is not installed: every function here does nothing
    trace = None

logger = logging.getLogger(__name__)

PREFIX = "domain."  # the attributes' namespace, apart from OpenTelemetry's own conventions

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
    span = _tracer.start_span(f"command {name}", attributes=attributes)
    outcome = {f"{PREFIX}outcome": "failed"}  # unless it returns
    with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        try:
            result = call_next(command)
        except RunWithSavepoints:
            # A run the refusal rule abandons for one with savepoints: never
            # ended, its span is never exported, and no latency is counted;
            # the run that follows records the refusal (refusal_rule).
            raise
        except BaseException as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            _end(span, outcome, name, started)
            raise
        outcome[f"{PREFIX}outcome"] = "refused" if result.rejection else "done"
        if result.rejection:
            span.set_attribute(f"{PREFIX}refusal_code", result.rejection.code)
        if result.replayed:
            span.set_attribute(f"{PREFIX}replayed", True)
        _end(span, outcome, name, started)
        return result


def _end(span, outcome: dict, name: str, started: float) -> None:
    span.set_attributes(outcome)
    span.end()
    _dispatch_latency.record(time.perf_counter() - started, {f"{PREFIX}command.type": name, **outcome})


class _NoSpan:
    """What ``delivering`` hands back without OpenTelemetry: does nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def outcome(self, status: str | None, error: Exception | None = None) -> None:
        """Nothing to record."""

    def abandon(self) -> None:
        """Nothing to leave out."""


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
        self.started, self.abandoned = time.perf_counter(), False
        self.span = _tracer.start_span(self.name, attributes=self.attributes)
        self.context = trace.use_span(self.span, end_on_exit=False)
        self.context.__enter__()
        return self

    def __exit__(self, *exc):
        result = self.context.__exit__(*exc)
        if self.abandoned:  # never ended: never exported
            return result
        # No outcome: an error left the delivery's transaction (a conflict,
        # which runs it again at once), so nothing of this attempt was kept.
        outcome = self.status or "aborted"
        _delivery_latency.record(time.perf_counter() - self.started, {**self.metric, f"{PREFIX}outcome": outcome})
        self.span.end()
        return result

    def abandon(self) -> None:
        """Leave this run out: the refusal rule runs it again with savepoints
        (``refusal_rule``), and that run's span is the delivery's."""
        self.abandoned = True

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
