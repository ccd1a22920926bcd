"""The pieces of delivery through a queue, without a broker: what a commit
hands off, the claim a worker takes per message, a conflict retried
uncounted, and publishing that gives up when the broker is down."""

import logging
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from accounts.commands import BlockAccount
from accounts.events import AccountBlocked
from messaging import bus, relay, tasks
from messaging.delivery import claiming
from messaging.models import Delivery
from messaging.store import Opened
from messaging.testing import subscribed
from tests.support.factories import AccountFactory
from tests.support.pg_cluster import _free_port
from tests.support.redis_server import publishing_to

SPY = "tests.spy"
handed_off = []


def collect(opened):
    """A hand-off that keeps what it was given (``MESSAGING_HAND_OFF``)."""
    handed_off.extend(row.delivery_id for row in opened)


@pytest.fixture
def pair(db):
    handed_off.clear()
    return AccountFactory(), AccountFactory()


def block(pair):
    alice, bob = pair
    return bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))


def test_a_commit_hands_off_what_it_leaves_but_not_what_failed(pair, scenario, settings):
    settings.MESSAGING_HAND_OFF = "tests.messaging.test_queued_delivery.collect"

    def failing(event):
        raise RuntimeError("down")

    with (
        subscribed(AccountBlocked, failing, name=SPY),
        subscribed(AccountBlocked, lambda event: None, name="tests.mail", outside=True),
    ):
        scenario.when(BlockAccount(blocker_id=pair[1].pk, blocked_id=pair[0].pk))

    assert handed_off == [Delivery.objects.get(policy="tests.mail").pk]
    assert Delivery.objects.get(policy=SPY).status == Delivery.Status.FAILED


def test_with_on_commit_delivery_off_a_commit_hands_off_every_delivery(pair, scenario, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_HAND_OFF = "tests.messaging.test_queued_delivery.collect"

    scenario.when(BlockAccount(blocker_id=pair[1].pk, blocked_id=pair[0].pk))

    assert sorted(handed_off) == sorted(Delivery.objects.values_list("pk", flat=True))
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_a_message_runs_its_row_once_and_a_copy_or_a_stale_one_runs_nothing(pair, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    runs = []
    with subscribed(AccountBlocked, lambda event: runs.append(event.event_id), name=SPY):
        block(pair)
        row = Delivery.objects.get(policy=SPY)
        queued = claiming.claim_opened([row.pk], outside=False)
        assert queued.ids == [row.pk]
        assert row.pk not in claiming.claim_due(10).ids  # queued: the sweep passes it by

        assert tasks.deliver([row.pk], str(queued.lease)) == {"done": 1}
        assert tasks.deliver([row.pk], str(queued.lease)) == {}  # the broker's redelivery
        assert tasks.deliver([row.pk]) == {}  # a message without a lease, for a row that is done

    assert len(runs) == 1


def test_a_worker_never_runs_a_row_before_its_retry_time(pair, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    with subscribed(AccountBlocked, lambda event: 1 / 0, name=SPY):
        block(pair)
        row = Delivery.objects.get(policy=SPY)
        assert tasks.deliver([row.pk]) == {"failed": 1}
        assert tasks.deliver([row.pk]) == {}

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 1)


class Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlock_inside_a_delivery_runs_it_again_at_once_without_counting_an_attempt(pair, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    calls = []

    def deadlocks_once(event):
        calls.append(event.event_id)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from Deadlock()

    with subscribed(AccountBlocked, deadlocks_once, name=SPY):
        block(pair)
        row = Delivery.objects.get(policy=SPY)
        assert relay.deliver(row.pk) == "done"

    row.refresh_from_db()
    assert (len(calls), row.attempts) == (2, 1)


def test_when_the_broker_is_down_publishing_gives_up_at_once_and_the_rows_wait_for_the_sweep(pair, settings, caplog):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    block(pair)
    opened = [Opened(row.pk, None, row.policy, row.outside) for row in Delivery.objects.all()]
    with publishing_to(f"redis://127.0.0.1:{_free_port()}/0"), caplog.at_level(logging.WARNING, logger="messaging"):
        started = time.perf_counter()
        tasks.enqueue(opened)  # what the commit's hand-off does
        took = time.perf_counter() - started

    assert took < 2.0
    assert any("left to the sweep" in record.getMessage() for record in caplog.records)
    assert sorted(claiming.claim_due(10).ids) == sorted(row.delivery_id for row in opened)  # released, due


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_message_skips_a_row_another_worker_holds_instead_of_waiting(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    block((AccountFactory(), AccountFactory()))
    row = Delivery.objects.order_by("pk").first()
    held, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Delivery.objects.select_for_update().get(pk=row.pk)
            held.set()
            release.wait(timeout=10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=10)
        assert claiming.claim_queued([row.pk], outside=False).ids == []  # at once, not after the holder
    finally:
        release.set()
        holder.join()
    assert claiming.claim_queued([row.pk], outside=False).ids == [row.pk]
