"""OpenTelemetry across processes' boundaries: one block through the API is
one trace, from the request to the policy's command in a Celery worker.

The worker is a real Celery worker on a real broker (a throwaway
``redis-server``), run in a thread of this process by Celery's own
``start_worker`` so that it records into the same in-memory exporter; the
trace context still travels in the message's headers. On-commit delivery is
off, so the request hands the delivery to the broker.
"""

import os
import subprocess
import sys
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from opentelemetry.trace import SpanKind

from config import telemetry
from config.celery import app
from messaging.models import StoredEvent
from tests.support.factories import AccountFactory, FollowFactory
from tests.support.redis_server import publishing_to, throwaway_redis
from tests.support.telemetry import recording

POLICY = "accounts.policies.remove_follows_on_block"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_block_through_the_api_is_one_trace_from_the_request_to_the_policys_command_in_the_worker(client, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_HAND_OFF = "messaging.tasks.enqueue"
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    FollowFactory(follower=alice, followee=bob)
    client.force_login(bob)
    with throwaway_redis() as broker, publishing_to(broker.url), recording() as recorded:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            response = client.post(f"/api/v1/accounts/{alice.pk}/block/")
            spans = finished_through(recorded, SpanKind.CONSUMER)
        gauges = recorded.metric_names()

    assert response.status_code == 201
    correlation_id = response["X-Correlation-ID"]
    [request] = [span for span in spans if span.kind == SpanKind.SERVER]
    [block] = named(spans, "command BlockAccount")
    [delivery] = named(spans, f"deliver AccountBlocked to {POLICY}")
    [sever] = named(spans, "command SeverFollows")
    # The worker's run of the block's message (the policy's own events are
    # handed off in turn, so later messages may have run too).
    [task] = [span for span in spans if span.kind == SpanKind.CONSUMER and span.context == delivery.parent]
    assert {span.context.trace_id for span in (request, block, task, delivery, sever)} == {request.context.trace_id}
    assert block.parent.span_id == request.context.span_id
    assert [span for span in spans if span.kind == SpanKind.CLIENT and within(span, delivery, spans)]  # its queries
    assert sever.parent.span_id == delivery.context.span_id
    for span in (request, block, delivery, sever):
        assert span.attributes["domain.correlation_id"] == correlation_id
    assert (block.attributes["domain.outcome"], delivery.attributes["domain.outcome"]) == ("done", "done")
    assert sever.attributes["domain.causation_id"] == delivery.attributes["domain.event.id"]
    trace_id = f"{request.context.trace_id:032x}"
    stored = StoredEvent.objects.filter(correlation_id=correlation_id).values_list("type", "trace_id")
    assert set(stored) == {("AccountBlocked", trace_id), ("FollowRemoved", trace_id)}
    assert {
        "domain.command.duration",
        "domain.delivery.duration",
        "domain.deliveries.backlog",
        "domain.deliveries.dead",
    } <= gauges


def within(span, ancestor, spans) -> bool:
    """Whether ``span`` descends from ``ancestor`` among ``spans``."""
    by_id = {other.context.span_id: other for other in spans}
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        span = by_id.get(span.parent.span_id)
        if span is None:
            return False
    return False


def finished_through(recorded, kind: SpanKind, timeout: float = 30):
    """The spans finished once one of ``kind`` has (the worker's run of the
    task ends last, after the delivery and its commands)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = recorded.finished()
        if any(span.kind == kind for span in spans):
            return spans
        assert time.monotonic() < deadline, f"no {kind} span among {[span.name for span in spans]}"
        time.sleep(0.05)


def named(spans, name: str) -> list:
    return [span for span in spans if span.name == name]


def test_with_no_otel_variables_nothing_is_set_up():
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    script = (
        "import django; django.setup()\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.instrumentation.django import DjangoInstrumentor\n"
        "from config import telemetry\n"
        "from messaging import telemetry as kernel\n"
        "print(telemetry.setup(), kernel.installed(), DjangoInstrumentor().is_instrumented_by_opentelemetry,\n"
        "      type(trace.get_tracer_provider()).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "False", "False", "ProxyTracerProvider"]


@pytest.mark.parametrize(
    "environment, wanted",
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "shop"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_only_an_endpoint_or_an_exporter_turns_opentelemetry_on(environment, wanted):
    assert telemetry.wanted(environment) is wanted
