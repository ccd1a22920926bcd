"""Delivery under crashes, duplicates and competing relay workers."""

import os
import random
import subprocess
import sys
import threading
import time
from uuid import uuid4

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import transaction

from accounts.commands import BlockAccount
from accounts.events import AccountBlocked
from accounts.models import Follow
from messaging import bus, relay, store
from messaging.delivery import claiming
from messaging.models import Delivery, StoredEvent
from tests.support.concurrency import run_concurrently
from tests.support.counting import counted, register_counting
from tests.support.factories import AccountFactory, FollowFactory
from tests.support.subprocesses import database_url


def quiet_relay():
    with open(os.devnull, "w") as devnull:
        call_command("relay_events", stdout=devnull)


def state():
    """What the policies' effects leave behind, comparable between runs."""
    return (
        sorted(Follow.objects.values_list("follower__username", "followee__username")),
        sorted(StoredEvent.objects.values_list("type", flat=True)),
    )


def block_everyone(people):
    for blocker, blocked in zip(people, people[1:] + people[:1], strict=True):
        bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk))


def a_small_graph():
    people = [AccountFactory(username=f"p{i}") for i in range(6)]
    for follower in people:
        for followee in people:
            if follower != followee:
                FollowFactory(follower=follower, followee=followee)
    return people


@pytest.mark.django_db
def test_every_event_delivered_twice_in_shuffled_order_ends_as_one_delivery(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    people = a_small_graph()
    block_everyone(people)
    ids = list(Delivery.objects.values_list("pk", flat=True)) * 2
    random.Random(3).shuffle(ids)
    for delivery_id in ids:
        relay.deliver(delivery_id)
    twice = state()

    Delivery.objects.filter(event__command_type="SeverFollows").delete()
    StoredEvent.objects.filter(command_type="SeverFollows").delete()
    Delivery.objects.update(status="pending", attempts=0)
    Follow.objects.all().delete()
    for follower in people:
        for followee in people:
            if follower != followee:
                FollowFactory(follower=follower, followee=followee)
    # until none is pending: delivering a block opens deliveries of its FollowRemoved
    while due := list(Delivery.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)):
        for delivery_id in due:
            relay.deliver(delivery_id)

    assert twice == state()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}


KILLED_AFTER_COMMIT = """
import os, signal, sys, uuid, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from messaging import bus
from accounts.commands import BlockAccount
# Die between the commit and the delivery: the moment a crash loses most.
bus.deliver_opened = lambda *opened, **hand_off: os.kill(os.getpid(), signal.SIGKILL)
result = bus.dispatch(BlockAccount(blocker_id=uuid.UUID(sys.argv[1]), blocked_id=uuid.UUID(sys.argv[2])))
sys.exit(f"not killed: {result}")
"""


@pytest.mark.django_db(transaction=True)
def test_processes_killed_between_commit_and_delivery_lose_nothing_and_double_nothing():
    pairs = []
    for _ in range(int(os.environ.get("CRASH_ROUNDS", 25))):
        alice, bob = AccountFactory(), AccountFactory()
        FollowFactory(follower=alice, followee=bob)
        FollowFactory(follower=bob, followee=alice)
        pairs.append((alice, bob))
    env = {**os.environ, "DATABASE_URL": database_url(), "MESSAGING_LOG_LEVEL": "WARNING"}

    for alice, bob in pairs:
        died = subprocess.run(
            [sys.executable, "-c", KILLED_AFTER_COMMIT, str(bob.pk), str(alice.pk)],
            env=env,
            cwd=django_settings.BASE_DIR,
            capture_output=True,
        )
        assert died.returncode == -9, died.stderr.decode()
    assert Delivery.objects.filter(status="pending").count() == len(pairs)
    assert Follow.objects.count() == 2 * len(pairs)

    quiet_relay()
    quiet_relay()

    assert not Follow.objects.exists()
    assert StoredEvent.objects.filter(type="FollowRemoved").count() == 2 * len(pairs)
    call_command("check_invariants", stdout=open(os.devnull, "w"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_relay_workers_drain_thousands_of_deliveries_applying_each_once(scratch_registry, settings):
    """A policy whose command is not idempotent: any double delivery would
    store a second ``EffectCounted`` for the same event."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    register_counting(scratch_registry, on=AccountBlocked)
    people = [AccountFactory() for _ in range(32)]
    for blocker in people:
        for blocked in people:
            if blocker != blocked:
                bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk))
    expected = StoredEvent.objects.filter(type="AccountBlocked").count()

    late = threading.Event()
    late_committed = threading.Event()

    def commit_late():
        """Append an event early (a low position) but commit it only after the
        workers have found the queue empty once: ids commit out of order."""
        with transaction.atomic():
            store.append(
                BlockAccount(blocker_id=uuid4(), blocked_id=uuid4(), correlation_id=uuid4()),
                [AccountBlocked(blocker_id=uuid4(), blocked_id=uuid4())],
            )
            late.wait(timeout=30)
        late_committed.set()

    def worker():
        while True:
            committed = late_committed.is_set()  # read before claiming: then the claim sees it
            claim = claiming.claim_due(50)
            if claim.ids:
                relay.deliver_claimed(claim)
            elif committed:
                return
            else:
                late.set()
                time.sleep(0.01)

    results = run_concurrently([commit_late, worker, worker, worker, worker])

    assert [r for r in results if isinstance(r, Exception)] == []
    effects = counted()
    assert sum(effects.values()) == len(effects) == expected + 1  # each event's effect stored once
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
