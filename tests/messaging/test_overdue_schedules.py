"""Overdue schedules are seen: a schedule past its time (Celery's beat or
every relay stopped) shows in the backlog, on ``/health/`` and in
``check_invariants`` past ``MESSAGING_SCHEDULE_OVERDUE_SECONDS``; the last
sweep's time shows too, so a dead beat is seen within a minute."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models.functions import Now

from console import health
from messaging import tasks
from messaging.models import ScheduledCommand, Sweep
from messaging.operations import metrics
from messaging.testing import relay
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(scenario, settings):
    """An order placed: its expiry waits (an hour), nothing has swept yet."""
    settings.ORDER_CONFIRM_TIMEOUT = 3600
    settings.MESSAGING_SCHEDULE_OVERDUE_SECONDS = 60
    scenario.given(place(AccountFactory(), (BookFactory(inventory__on_hand=2), 1)))
    return ScheduledCommand.objects.get()


def overdue_by(schedule: ScheduledCommand, seconds: int) -> None:
    ScheduledCommand.objects.filter(pk=schedule.pk).update(not_before=Now() - timedelta(seconds=seconds))


def check_invariants() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_invariants", stdout=out, stderr=err)
    except CommandError as failed:
        out.write(f"\nFAILED: {failed}")
    return out.getvalue(), err.getvalue()


def test_a_schedule_overdue_past_the_threshold_shows_in_the_backlog_health_and_check_invariants(waiting):
    # given: the expiry's time passed two minutes ago, and nothing dispatched it (the beat is down)
    overdue_by(waiting, 120)

    # when
    backlog = metrics.backlog()
    _, body = health.readiness()
    out, _ = check_invariants()

    # then
    assert backlog.overdue_schedules == 1 and 120 <= backlog.oldest_overdue_schedule_seconds < 125
    assert (
        body["deliveries"]["schedules"]["overdue"] == 1
        and body["deliveries"]["schedules"]["oldest_overdue_seconds"] >= 120
    )
    assert f"scheduled ExpireOrder [{waiting.key}] is overdue by 120s" in out
    assert "FAILED" in out


def test_a_schedule_just_due_is_counted_but_breaks_no_rule(waiting):
    # given: due ten seconds ago, within the threshold
    overdue_by(waiting, 10)

    # when
    backlog = metrics.backlog()
    out, _ = check_invariants()

    # then
    assert backlog.overdue_schedules == 1
    assert "FAILED" not in out and out.startswith("all ")


def test_the_last_sweep_is_recorded_and_a_beat_silent_for_a_minute_is_reported(waiting, monkeypatch):
    # given: Celery's sweep ran (no broker: it counts what it would queue)
    monkeypatch.setattr(tasks, "_publish", lambda claim, outside: len(claim.ids))
    tasks.sweep()
    assert 0 <= metrics.backlog().last_sweep_seconds_ago < 5
    _, err = check_invariants()
    assert "no sweep" not in err

    # when: nothing has swept for 61 seconds
    Sweep.objects.update(swept_at=Now() - timedelta(seconds=61))

    # then: every screen says so
    assert 61 <= metrics.backlog().last_sweep_seconds_ago < 65
    _, body = health.readiness()
    assert body["deliveries"]["schedules"]["last_sweep_seconds_ago"] >= 61
    _, err = check_invariants()
    assert "no sweep of the schedules for 61s" in err


def test_a_relay_round_records_its_sweep(waiting):
    # given: no sweep ever
    assert metrics.backlog().last_sweep_seconds_ago is None

    # when
    relay()

    # then
    assert 0 <= metrics.backlog().last_sweep_seconds_ago < 5
