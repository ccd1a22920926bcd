"""Health endpoints, for load balancers and orchestrators.

``/health/live/`` (liveness) says the process answers, and touches nothing
else, so a slow database never gets a live process restarted.

``/health/`` (readiness) says whether this node can serve: the database
answers and every migration is applied; 200 ``{"status": "ready"}``, 503
``{"status": "unavailable"}`` otherwise, and nothing more to anyone. Staff
also get each check (with why it failed) and the deliveries (the open
backlog due, how long the oldest has waited, the dead letters, the open
rows no running worker knows (``deliveries list --unknown``), and the lag
of each policy on each lane), which by default never fail readiness: one
bad address dead-lettering its mails must not take every web node out of
the load balancer. An operator watches those figures; ``check_invariants``
fails on dead letters. Thresholds are opt-in: with
``MESSAGING_READY_MAX_LAG_SECONDS`` (the oldest due delivery's wait) or
``MESSAGING_READY_MAX_BACKLOG`` (rows due) set, a node past either is not
ready. Every node reads the same outbox, so all of them turn unready
together: set them for the workers' readiness (relay, Celery), not for
web nodes behind one load balancer.

``/metrics`` (``console.scrape``) is answered here too, first, when it
carries the scrape token: Prometheus scrapes each node by its address.

Both are answered by ``HealthMiddleware``, first in ``MIDDLEWARE``, before
anything asks the request for its host: a load balancer probes a node by
its address (``Host: 10.0.0.5:8000``), which ``ALLOWED_HOSTS`` rightly
refuses everywhere else, and over plain HTTP, which ``SECURE_SSL_REDIRECT``
would bounce. A probe carries no credentials; a request that does (a
session cookie, an ``Authorization`` header) goes on through the whole
stack, host check included, to ``HealthView``, which authenticates it as
any API view does and shows the figures to staff.

The checks are django-health-check's: its ``Database`` check, and
``Migrations`` on its ``HealthCheck`` base (``console.readiness``). Its own view is not used:
it answers 500 rather than 503, goes through host validation like any view,
and has no room for the deliveries.
"""

import asyncio
import threading
import time

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from rest_framework import permissions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging.conf import conf
from messaging.delivery import workers
from messaging.operations import metrics

from . import scrape

READINESS_PATH = "/health"
LIVENESS_PATH = "/health/live"


def readiness() -> tuple[int, dict]:
    """Run the readiness checks now: the HTTP status and the JSON body."""
    # django-health-check's checks module imports the clients of every check it has (Redis, DNS, SMTP...):
    # loaded by a worker's first readiness probe, not by every worker's start (docs/performance.md).
    from .readiness import checks

    checks = checks()
    results = asyncio.run(_results(checks.values()))
    answers = {
        name: {"status": "ok"} if result.error is None else {"status": "unavailable", "detail": str(result.error)}
        for name, result in zip(checks, results, strict=True)
    }
    deliveries = _deliveries()
    behind = _behind(deliveries)
    if behind is not None:
        answers["deliveries"] = {"status": "ok"} if not behind else {"status": "unavailable", "detail": behind}
    ready = all(answer["status"] == "ok" for answer in answers.values())
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": answers,
        "deliveries": deliveries,
    }


async def _results(checks):
    # Each check runs in a worker thread (django-health-check's way for
    # synchronous checks), on a database connection of its own.
    return await asyncio.gather(*(check.get_result() for check in checks))


def _behind(deliveries: dict | None) -> str | None:
    """With a readiness threshold set (``MESSAGING_READY_MAX_LAG_SECONDS``,
    ``MESSAGING_READY_MAX_BACKLOG``), why the outbox is too far behind ("":
    it is not); ``None`` without a threshold, or without figures (the
    database check then says why)."""
    max_lag, max_backlog = conf.MESSAGING_READY_MAX_LAG_SECONDS, conf.MESSAGING_READY_MAX_BACKLOG
    if deliveries is None or (max_lag is None and max_backlog is None):
        return None
    oldest, due = deliveries["oldest_due_seconds"], deliveries["backlog"]
    if max_lag is not None and oldest is not None and oldest > max_lag:
        return f"the oldest due delivery has waited {oldest}s, over MESSAGING_READY_MAX_LAG_SECONDS ({max_lag:g})"
    if max_backlog is not None and due > max_backlog:
        return f"{due} deliveries are due, over MESSAGING_READY_MAX_BACKLOG ({max_backlog})"
    return ""


def _deliveries() -> dict | None:
    """The outbox's figures, or ``None`` when they cannot be read (the
    checks then say why): the totals, and the lag of each policy on each lane."""
    try:
        backlog = metrics.backlog()
        lag = metrics.lag()
    except DatabaseError:
        return None
    return {
        "backlog": backlog.due,
        "oldest_due_seconds": backlog.oldest_due_seconds,
        "dead": backlog.dead,
        "held": backlog.held,
        "backfill": backlog.backfill,
        "unknown": sum(found.rows for found in workers.unknown()),
        "schedules": {
            "overdue": backlog.overdue_schedules,
            "oldest_overdue_seconds": backlog.oldest_overdue_schedule_seconds,
            "last_sweep_seconds_ago": backlog.last_sweep_seconds_ago,
        },
        "lag": [row.as_dict() for row in lag],
    }


class _RecentReadiness:
    """The last readiness answer, reused for ``HEALTH_CACHE_SECONDS``, so a
    load balancer polling every second costs a few checks a minute. Kept in
    the process, not in the cache: each node must answer for itself, and a
    cache shared by the nodes would hand one node's answer to another.
    Probes arriving together wait for one run instead of each running the
    checks."""

    def __init__(self):
        self._lock = threading.Lock()
        self._answer: tuple[float, int, dict] | None = None

    def get(self) -> tuple[int, dict]:
        with self._lock:
            if self._answer is None or time.monotonic() - self._answer[0] >= settings.HEALTH_CACHE_SECONDS:
                self._answer = (time.monotonic(), *readiness())
            return self._answer[1:]


_recent = _RecentReadiness()


class HealthMiddleware:
    """Answers ``/health/`` and ``/health/live/`` (with or without the
    trailing slash), and ``/metrics`` carrying the scrape token, before any
    other middleware, whatever the ``Host`` header; passes every other
    request on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info.rstrip("/")
        if path == scrape.METRICS_PATH and request.method in ("GET", "HEAD") and scrape.scrape_token_matches(request):
            return scrape.exposition()  # Prometheus scrapes each node by its address
        if path not in (READINESS_PATH, LIVENESS_PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if path == LIVENESS_PATH:
            status, body = 200, {"status": "alive"}
        elif _has_credentials(request):
            return self.get_response(request)  # HealthView: the figures, if staff
        else:
            status, body = public(*_recent.get())
        response = JsonResponse(body, status=status)
        add_never_cache_headers(response)
        return response


def public(status: int, body: dict) -> tuple[int, dict]:
    """What anyone is told: ready or not. The checks' reasons and the
    deliveries' figures are an operator's."""
    return status, {"status": body["status"]}


def _has_credentials(request) -> bool:
    return settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META


class HealthView(APIView):
    """``/health/`` for a request with credentials: the whole answer for
    staff, the public one for anyone else."""

    permission_classes = [permissions.AllowAny]
    renderer_classes = [JSONRenderer]
    schema = None  # the load balancers' endpoint, not the API's

    @method_decorator(never_cache)
    def get(self, request):
        status, body = _recent.get()
        if not (request.user.is_active and request.user.is_staff):
            status, body = public(status, body)
        return Response(body, status=status)
