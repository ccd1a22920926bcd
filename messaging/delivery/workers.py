"""What each worker can run, and the deliveries no running worker can.

During a rolling deploy the workers of two releases claim from one ledger:
each takes only the rows of the policies it knows, at event versions it
reads (``runnable``), so a worker of the other release never counts an
attempt on a row it cannot run (it would dead-letter it). Each worker
announces what it knows (a ``Worker`` row, renewed on a lease); a row that
no running worker knows for ``MESSAGING_UNKNOWN_DELIVERY_SECONDS`` is
reported (``unknown``): ``deliveries list --unknown``, staff ``/health/``,
a ``check_invariants`` warning.
"""

import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, Min, Q
from django.db.models.functions import Now

from ..conf import conf
from ..models import Delivery, Worker
from ..registry import registry


def runnable() -> Q:
    """The deliveries this process can run: of a policy it knows (by its
    name or an alias), of an event stored in a version it reads (the row
    keeps its event's version, so no join: a claim costs what it did). A
    row of an event a newer release stored is left to that release."""
    by_version: dict[int, list[str]] = {}
    for name, version in registry.knowledge().items():
        by_version.setdefault(version, []).append(name)
    known = Q(pk__in=[])
    for version, names in sorted(by_version.items()):
        known |= Q(policy__in=sorted(names), event_version__lte=version)
    return known


def worker_name(kind: str) -> str:
    """How a worker is announced: its host, its process id and its kind."""
    return f"{socket.gethostname()}:{os.getpid()} {kind}"


def announce(name: str) -> None:
    """Say that the worker ``name`` runs now and what it knows (by the database's clock)."""
    updated = Worker.objects.filter(name=name).update(knows=registry.knowledge(), seen_at=Now())
    if not updated:
        Worker.objects.bulk_create(
            [Worker(name=name, knows=registry.knowledge(), seen_at=Now(), started_at=Now())],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["knows", "seen_at"],
        )


def withdraw(name: str) -> None:
    """Say that the worker ``name`` stopped (a clean exit)."""
    Worker.objects.filter(name=name).delete()


class Announcer:
    """A worker's announcements: ``renew()`` at each round announces at most
    every ``MESSAGING_WORKER_ANNOUNCE_SECONDS`` (one UPDATE), so it costs
    nothing measurable per round."""

    def __init__(self, kind: str):
        self.name = worker_name(kind)
        self._next = 0.0

    def renew(self) -> None:
        if time.monotonic() >= self._next:
            announce(self.name)
            self._next = time.monotonic() + conf.MESSAGING_WORKER_ANNOUNCE_SECONDS

    def withdraw(self) -> None:
        withdraw(self.name)


def live() -> dict[str, dict[str, int]]:
    """The workers heard from within ``MESSAGING_WORKER_LEASE_SECONDS``, and what each knows."""
    since = Now() - timedelta(seconds=conf.MESSAGING_WORKER_LEASE_SECONDS)
    return dict(Worker.objects.filter(seen_at__gte=since).values_list("name", "knows"))


@dataclass(frozen=True)
class Unknown:
    """Open deliveries of one policy name and event version that no running
    worker knows, open for longer than the threshold."""

    policy: str
    version: int
    rows: int
    oldest_seconds: int


def unknown(threshold: float | None = None) -> list[Unknown]:
    """The open deliveries, open for more than ``threshold`` seconds
    (``MESSAGING_UNKNOWN_DELIVERY_SECONDS``) by the database's clock, that no
    live worker can run, grouped by policy name and event version: one
    GROUP BY over the open rows and one read of the workers. With no live
    worker at all, every such row is unknown."""
    threshold = conf.MESSAGING_UNKNOWN_DELIVERY_SECONDS if threshold is None else threshold
    knowledge: dict[str, int] = {}
    for knows in live().values():
        for name, version in knows.items():
            knowledge[name] = max(version, knowledge.get(name, 0))
    groups = (
        Delivery.objects.filter(status__in=Delivery.OPEN, created_at__lt=Now() - timedelta(seconds=threshold))
        .values("policy", "event_version")
        .annotate(
            rows=Count("pk"),
            age=ExpressionWrapper(Now() - Min("created_at"), output_field=DurationField()),
        )
        .order_by("policy", "event_version")
    )
    return [
        Unknown(group["policy"], group["event_version"], group["rows"], int(group["age"].total_seconds()))
        for group in groups
        if knowledge.get(group["policy"], 0) < group["event_version"]
    ]


def describe(found: Unknown) -> str:
    """One line an operator reads."""
    return (
        f"{found.rows} open deliveries to {found.policy} (event v{found.version}) no running worker knows, "
        f"the oldest for {found.oldest_seconds}s: deploy a worker that has this policy, or retire it"
    )
