"""Commands that wait for their time: only those allowed and carrying no
secret, dispatched exactly once when due, cancellable, retried then
dead-lettered when they fail, listed for an operator."""

import io
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.commands import RegisterAccount
from messaging import bus, tasks
from messaging.features import schedules
from messaging.messages import Command
from messaging.models import ScheduledCommand, StoredEvent
from messaging.registry import Registry, RegistryError, registry
from messaging.testing import relay
from orders.commands import ExpireOrder
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db


def test_a_command_carrying_a_secret_can_never_wait():
    with pytest.raises(RegistryError, match="password"):
        Registry().register_schedulable(RegisterAccount)


def test_a_command_not_allowed_to_wait_is_not_scheduled(scenario):
    @dataclass(frozen=True, kw_only=True)
    class Unlisted(Command):
        pass

    with pytest.raises(RegistryError, match="not schedulable"):
        schedules.schedule(Unlisted(), after=timedelta(0), key="x", by=Unlisted())
    assert not ScheduledCommand.objects.exists()


@pytest.fixture
def expiry(scenario, settings):
    """An order placed, its expiry waiting (due once ``now`` is moved)."""
    settings.ORDER_CONFIRM_TIMEOUT = 3600
    (result,) = scenario.given(place(AccountFactory(), (BookFactory(inventory__on_hand=2), 1)))
    return result.events[0].order_id, ScheduledCommand.objects.get()


def due(schedule: ScheduledCommand) -> None:
    ScheduledCommand.objects.filter(pk=schedule.pk).update(not_before=timezone.now() - timedelta(seconds=1))


def test_an_operator_cancels_a_waiting_schedule_once(expiry, scenario):
    _, schedule = expiry

    scenario.when(schedules.CancelSchedule(key=schedule.key)).then_events(schedules.ScheduleCancelled)
    scenario.when(schedules.CancelSchedule(key=schedule.key)).then_rejected("not_scheduled")

    schedule.refresh_from_db()
    assert schedule.status == ScheduledCommand.Status.CANCELLED and schedule.settled_at is not None
    due(schedule)
    relay()
    assert not StoredEvent.objects.filter(command_type="ExpireOrder").exists()


def test_a_failing_scheduled_command_is_retried_then_dead_lettered(expiry, settings, monkeypatch):
    _, schedule = expiry
    settings.MESSAGING_MAX_ATTEMPTS = 2

    def broken(command):
        raise RuntimeError("the shop is closed")

    monkeypatch.setitem(registry.handlers, ExpireOrder, broken)
    due(schedule)
    relay()
    schedule.refresh_from_db()
    assert schedule.status == ScheduledCommand.Status.WAITING and schedule.attempts == 1
    assert schedule.not_before > timezone.now() and "the shop is closed" in schedule.last_error

    due(schedule)
    relay()
    schedule.refresh_from_db()
    assert schedule.status == ScheduledCommand.Status.DEAD and schedule.attempts == 2
    assert not StoredEvent.objects.filter(command_type="ExpireOrder").exists()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_invariants", stdout=out, stderr=out)
    assert f"scheduled ExpireOrder [{schedule.key}] is dead-lettered" in out.getvalue()


def test_the_operator_lists_schedules_and_cancels_one_on_the_shell(expiry):
    order_id, schedule = expiry
    out = io.StringIO()
    call_command("deliveries", "schedules", "--status", "waiting", stdout=out)
    assert "ExpireOrder" in out.getvalue() and schedule.key in out.getvalue()

    call_command("send_command", "CancelSchedule", f"key={schedule.key}", stdout=io.StringIO())
    out = io.StringIO()
    call_command("deliveries", "schedules", "--status", "cancelled", stdout=out)
    assert f"ExpireOrder:{order_id}" in out.getvalue()


def test_the_celery_sweep_dispatches_what_is_due(expiry, monkeypatch):
    order_id, schedule = expiry
    monkeypatch.setattr(tasks, "_publish", lambda claim, outside: len(claim.ids))  # no broker: count what it queues
    due(schedule)

    tasks.sweep()

    schedule.refresh_from_db()
    assert schedule.status == ScheduledCommand.Status.DONE
    assert StoredEvent.objects.get(type="OrderExpired").payload["order_id"] == str(order_id)


def test_the_shell_trace_shows_the_schedule_and_what_it_became(expiry):
    _, schedule = expiry
    due(schedule)
    relay()

    out = io.StringIO()
    call_command("trace", str(schedule.correlation_id), stdout=out)
    lines = out.getvalue().splitlines()
    (line,) = [line for line in lines if "schedule ExpireOrder" in line]
    assert "[dispatched]" in line
    below = lines[lines.index(line) + 1 :]
    assert any("ExpireOrder (command" in each for each in below) and any("OrderExpired" in each for each in below)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_dispatch_a_due_schedule_exactly_once(settings):
    settings.ORDER_CONFIRM_TIMEOUT = 3600
    for _ in range(5):
        bus.dispatch(place(AccountFactory(), (BookFactory(inventory__on_hand=2), 1)))
    ScheduledCommand.objects.update(not_before=timezone.now() - timedelta(seconds=1))
    start, outcomes = threading.Barrier(2), []

    def relay_round():
        try:
            start.wait()
            outcomes.append(schedules.dispatch_due(100))
        finally:
            connection.close()

    workers = [threading.Thread(target=relay_round) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sum(outcome["done"] for outcome in outcomes) == 5
    assert StoredEvent.objects.filter(type="OrderExpired").count() == 5
    assert set(ScheduledCommand.objects.values_list("status", flat=True)) == {"done"}
