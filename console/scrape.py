"""``/metrics``: the outbox's figures for Prometheus, per policy and lane.

A scrape reads the figures then and there (``metrics.lag`` and
``metrics.backlog``: a few aggregate queries served by indexes), through
``prometheus_client``'s exposition format, from a registry of its own (no
process or platform collectors: those are the node exporter's job).

Who may scrape: a monitoring system with ``Authorization: Bearer
<METRICS_SCRAPE_TOKEN>`` (answered first, by ``HealthMiddleware``, for any
``Host`` and over plain HTTP, as Prometheus scrapes each node by its
address), or a staff member signed in on the site. Anyone else gets 401
(403 when signed in); with no token set, only staff.
"""

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from messaging.operations import metrics

METRICS_PATH = "/metrics"

_PER_LANE = [
    ("waiting", "waiting", "Open deliveries: pending, or failed waiting for their retry."),
    ("failed", "failed", "Open deliveries that failed and wait for their retry."),
    ("due", "due", "Open deliveries whose time has come."),
    ("held", "held", "Open deliveries held back by an earlier one of their ordering key."),
    ("oldest_due_age_seconds", "oldest_due_seconds", "How long the oldest due delivery has waited (0: none due)."),
    ("done_per_minute", "per_minute", "Deliveries done per minute over the last 5 minutes."),
]


class OutboxCollector(Collector):
    """The gauges, read from the database at each scrape."""

    def collect(self):
        families = {
            name: GaugeMetricFamily(f"messaging_deliveries_{name}", text, labels=["policy", "lane"])
            for name, _, text in _PER_LANE
        }
        for row in metrics.lag():
            for name, field, _ in _PER_LANE:
                families[name].add_metric([row.policy, row.lane], getattr(row, field) or 0)
        yield from families.values()
        backlog = metrics.backlog()
        yield GaugeMetricFamily("messaging_deliveries_dead", "Dead letters awaiting an operator.", value=backlog.dead)
        yield GaugeMetricFamily(
            "messaging_schedules_overdue", "Waiting schedules past their time.", value=backlog.overdue_schedules
        )


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(OutboxCollector())


def scrape_token_matches(request) -> bool:
    """The request carries ``Authorization: Bearer <METRICS_SCRAPE_TOKEN>`` (never, without one set)."""
    token = settings.METRICS_SCRAPE_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and constant_time_compare(given.strip(), token)


def exposition() -> HttpResponse:
    """The figures in Prometheus' text format; 503 when they cannot be read."""
    try:
        response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
    except DatabaseError:
        response = HttpResponse("the outbox's figures cannot be read\n", status=503, content_type="text/plain")
    add_never_cache_headers(response)
    return response


def metrics_view(request):
    """``/metrics`` through the whole stack: staff signed in on the site (a
    scrape with the token is answered before, by ``HealthMiddleware``)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if scrape_token_matches(request) or (request.user.is_active and request.user.is_staff):
        return exposition()
    if request.user.is_authenticated:
        return HttpResponse("staff only\n", status=403, content_type="text/plain")
    response = HttpResponse("sign in as staff, or send the scrape token\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
