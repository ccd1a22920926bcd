"""The Celery sweep on its own queue, bounded per run (issue 26): a deep
backlog of due schedules is swept over several runs, each stopping after
``MESSAGING_SWEEP_LIMIT`` schedules or ``MESSAGING_SWEEP_RUN_SECONDS``, the
rest left due for the next run. Before, one sweep ran 37 s and blocked the
worker that also ran the database's deliveries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from messaging import tasks
from messaging.models import ScheduledCommand
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db

BACKLOG = 7


@pytest.fixture
def backlog(scenario, settings):
    """``BACKLOG`` order expiries, all overdue (the beat was down)."""
    settings.ORDER_CONFIRM_TIMEOUT = 3600
    book = BookFactory(inventory__on_hand=BACKLOG)
    for _ in range(BACKLOG):
        scenario.given(place(AccountFactory(), (book, 1)))
    ScheduledCommand.objects.update(not_before=timezone.now() - timedelta(minutes=5))


def waiting() -> int:
    return ScheduledCommand.objects.filter(status=ScheduledCommand.Status.WAITING).count()


def test_a_deep_backlog_is_swept_over_several_runs_of_at_most_the_limit(backlog, settings):
    settings.MESSAGING_SWEEP_LIMIT = 3

    left = []
    for _ in range(4):
        tasks.sweep()
        left.append(waiting())

    assert left == [4, 1, 0, 0]


def test_a_run_stops_once_its_time_is_up_and_leaves_the_rest_due(backlog, settings):
    settings.MESSAGING_SWEEP_RUN_SECONDS = 0  # every run's time is up after its first schedule

    tasks.sweep()
    assert waiting() == BACKLOG - 1
    tasks.sweep()
    assert waiting() == BACKLOG - 2


def test_the_sweep_has_a_queue_of_its_own():
    queues = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in ("messaging.sweep", "messaging.deliver_batch", "messaging.deliver_outside_batch")
    }

    assert queues == {
        "messaging.sweep": "sweep",
        "messaging.deliver_batch": "database",
        "messaging.deliver_outside_batch": "outside",
    }
