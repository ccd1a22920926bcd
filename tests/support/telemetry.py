"""OpenTelemetry for a test: the product's own instrumentation (Django,
psycopg, Celery, the kernel's spans and metrics) turned on with providers
that keep what they record in memory, and turned off again afterwards."""

from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config import telemetry


@dataclass
class Recorded:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        """The spans ended so far, in the order they ended."""
        return list(self.spans.get_finished_spans())

    def metric_names(self) -> set[str]:
        """The names of the metrics collected now."""
        data = self.metrics.get_metrics_data()
        return {
            metric.name
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }


@contextmanager
def recording():
    """Yield a ``Recorded`` while the product's instrumentation records into it."""
    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    telemetry.instrument(tracer_provider, MeterProvider(metric_readers=[metrics]))
    try:
        yield Recorded(spans, metrics)
    finally:
        telemetry.uninstrument()
