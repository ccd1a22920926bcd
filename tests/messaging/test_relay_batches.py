"""The relay delivers its claims many rows per transaction, marked in bulk,
within the bound on rows per transaction: without savepoints while every
delivery succeeds, and again with one around each delivery and command when
one fails or refuses, which then undoes only its own writes. Batched workers
sharing stock rows never deadlock each other."""

import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountBlocked, AccountFollowed, FollowRejected
from accounts.models import Account
from accounts.refusals import AccountRefusal
from messaging import bus
from messaging import relay as runner
from messaging.delivery import claiming
from messaging.messages import Command, Event
from messaging.models import Delivery, StoredEvent
from messaging.testing import subscribed
from orders.commands import CancelOrder
from tests.support.concurrency import run_concurrently
from tests.support.counting import COUNTING_POLICY, counted, register_counting
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import figures, place

SPY = "tests.spy"


def blocks(count: int) -> list:
    """``count`` blocks between fresh pairs, their deliveries left to the relay."""
    events = []
    for _ in range(count):
        blocker, blocked = AccountFactory(), AccountFactory()
        events += bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk)).events
    return events


@pytest.fixture
def relay_only(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    return settings


@pytest.mark.django_db(transaction=True)
def test_one_failing_row_in_a_batch_leaves_the_others_done(relay_only):
    handled, failing = [], set()

    def fails_on_the_second(event):
        if event.event_id in failing:
            AccountFactory()  # a write of its own, which the failure must undo
            raise ConnectionError("the service is down")
        handled.append(event.event_id)

    with subscribed(AccountBlocked, fails_on_the_second, name=SPY):
        events = blocks(3)
        failing.add(events[1].event_id)
        accounts = Account.objects.count()
        claim = claiming.claim_due(50)
        outcomes = runner.deliver_claimed(claim)

    assert outcomes == {"done": len(claim.ids) - 1, "failed": 1}
    rows = {row.event_id: row for row in Delivery.objects.filter(policy=SPY)}
    failed = rows[events[1].event_id]
    assert (failed.status, failed.attempts, failed.lease) == ("failed", 1, None)
    assert failed.last_error == "ConnectionError: the service is down"
    assert [rows[event.event_id].status for event in (events[0], events[2])] == ["done", "done"]
    # The batch ran again once it learned of the failure (its first run
    # undone whole): the failing policy ran once, the others' effects count once.
    assert set(handled) == {events[0].event_id, events[2].event_id}
    assert Account.objects.count() == accounts  # the failing row's own write was undone
    assert set(Delivery.objects.exclude(policy=SPY).values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_deliveries_all_succeed_runs_without_a_savepoint(scratch_registry, relay_only):
    register_counting(scratch_registry, on=AccountBlocked)
    events = blocks(3)
    claim = claiming.claim_due(50)
    with CaptureQueriesContext(connection) as queries:
        outcomes = runner.deliver_claimed(claim)

    assert outcomes == {"done": len(claim.ids)}
    assert not [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SAVEPOINT")]
    assert counted() == {str(event.event_id): 1 for event in events}


@dataclass(frozen=True, kw_only=True)
class WriteThenRefuse(Command):
    """Writes a row, then refuses when told to: a refusal must undo it."""

    refuse: bool


def write_then_refuse(command: WriteThenRefuse):
    AccountFactory()
    if command.refuse:
        raise FollowRejected.refuse(AccountRefusal.BLOCKED)
    return []


@pytest.mark.django_db(transaction=True)
def test_a_command_refused_in_a_batch_undoes_only_its_own_writes_and_its_delivery_is_done(scratch_registry, relay_only):
    register_counting(scratch_registry, on=AccountBlocked)
    events = blocks(3)
    refusing = events[1].event_id
    scratch_registry.register_handler(WriteThenRefuse, write_then_refuse)
    scratch_registry.subscribe(
        AccountBlocked, lambda event: [WriteThenRefuse(refuse=event.event_id == refusing)], name="tests.refusing"
    )
    Delivery.objects.bulk_create(  # the new policy's rows for the blocks already stored
        Delivery(event_id=event.event_id, policy="tests.refusing", next_attempt_at=timezone.now()) for event in events
    )
    accounts = Account.objects.count()
    claim = claiming.claim_due(50)
    outcomes = runner.deliver_claimed(claim)

    assert outcomes == {"done": len(claim.ids)}  # a refusal is an outcome of the command, not a failed delivery
    assert Account.objects.count() == accounts + 2  # the two commands that went through kept their writes
    assert StoredEvent.objects.filter(type="FollowRejected", causation_id=refusing).count() == 1
    assert counted() == {str(event.event_id): 1 for event in events}


@pytest.mark.django_db(transaction=True)
def test_a_row_whose_lease_was_taken_over_before_its_batch_ran_is_left_to_its_new_owner(scratch_registry, relay_only):
    relay_only.MESSAGING_RELAY_BATCH = 2  # the stale claim's rows span several transactions
    register_counting(scratch_registry, on=AccountBlocked)
    blocks(4)
    stale = claiming.claim_due(50)
    counting = list(Delivery.objects.filter(policy=COUNTING_POLICY).order_by("pk").values_list("pk", flat=True))
    # The stale worker stalls past its lease; another worker takes two of its rows over.
    Delivery.objects.filter(pk__in=counting[2:]).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    fresh = claiming.claim_due(50)
    assert set(fresh.ids) == set(counting[2:]) and set(fresh.ids) < set(stale.ids)

    assert runner.deliver_claimed(stale) == {"done": len(stale.ids) - 2, "skipped": 2}
    assert runner.deliver_claimed(fresh) == {"done": 2}

    assert len(counted()) == 4 and set(counted().values()) == {1}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}


class Ledger:
    """Every transaction's rows written and deliveries marked (SQLite issues
    its ``BEGIN`` through the cursor, where ``execute_wrapper`` sees it)."""

    def __init__(self):
        self.transactions = []

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            self.transactions.append(0)
        result = execute(sql, params, many, context)
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if self.transactions and verb == "INSERT":
            self.transactions[-1] += len(re.findall(r"\)\s*,\s*\(", sql)) + 1
        elif self.transactions and verb in ("UPDATE", "DELETE"):
            self.transactions[-1] += max(context["cursor"].rowcount, 0)
        return result


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="counts transactions by SQLite's BEGIN")
@pytest.mark.django_db(transaction=True)
def test_a_batch_stays_within_the_bound_on_rows_per_transaction(scratch_registry, relay_only):
    relay_only.MESSAGING_FANOUT_BATCH_SIZE = 20
    relay_only.MESSAGING_RELAY_BATCH = 50
    register_counting(scratch_registry, on=AccountFollowed)
    people = [AccountFactory() for _ in range(6)]
    for follower in people:
        for followee in people[:5]:
            if follower != followee:
                bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=followee.pk))
    deliveries = Delivery.objects.filter(status="pending").count()

    ledger = Ledger()
    with connection.execute_wrapper(ledger):
        outcomes = runner.deliver_claimed(claiming.claim_due(200))

    assert outcomes == {"done": deliveries}
    batches = ledger.transactions[1:]  # after the claim's own
    assert max(batches) <= 20
    assert len(batches) < deliveries / 3  # many deliveries per transaction, still
    assert len(counted()) == deliveries


@pytest.mark.django_db(transaction=True)
def test_a_delivery_expected_to_write_what_its_policy_wrote_before_starts_a_transaction_of_its_own(
    scratch_registry, relay_only
):
    """A heavy delivery after light ones in a batch is cut before it runs,
    since one of its policy wrote as much earlier in the claim: it does not
    run, cross the bound and roll the batch back to run it again."""
    relay_only.MESSAGING_FANOUT_BATCH_SIZE = 20
    relay_only.MESSAGING_RELAY_BATCH = 50
    heavy_runs = []

    def heavy(event):  # 12 rows in one INSERT
        heavy_runs.append(event.event_id)
        Account.objects.bulk_create(AccountFactory.build() for _ in range(12))

    def light(event):
        AccountFactory()

    scratch_registry.subscribe(AccountBlocked, heavy, name="tests.heavy")
    scratch_registry.subscribe(AccountBlocked, light, name="tests.light")
    events = blocks(7)
    Delivery.objects.all().delete()  # only this test's rows are due, in this order:
    order = (
        [("tests.heavy", events[0])] + [("tests.light", event) for event in events[1:6]] + [("tests.heavy", events[6])]
    )
    for policy, event in order:
        Delivery.objects.create(event_id=event.event_id, policy=policy)

    outcomes = runner.deliver_claimed(claiming.claim_due(50))

    assert outcomes == {"done": 7}
    assert heavy_runs == [events[0].event_id, events[6].event_id]  # each heavy delivery ran once


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="two writing sessions at once: PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_row_a_relay_delivers_while_its_run_right_after_the_commit_is_running_takes_effect_once(scratch_registry):
    """The run right after a commit claims its row last: when a relay took
    and delivered the row meanwhile, that run rolls back, its effect with it."""
    relay_may_run, relay_ran, runs = threading.Event(), threading.Event(), []

    def slow(event):
        runs.append(event.event_id)
        AccountFactory(username=f"effect{len(runs)}")
        if len(runs) == 1:  # right after the commit: a relay takes the row meanwhile
            relay_may_run.set()
            assert relay_ran.wait(30)

    def relay_meanwhile():
        assert relay_may_run.wait(30)
        try:
            return runner.deliver_claimed(claiming.claim_due(50))
        finally:
            relay_ran.set()
            connection.close()

    scratch_registry.subscribe(AccountBlocked, slow, name="tests.slow")
    blocker, blocked = AccountFactory(), AccountFactory()
    relay = threading.Thread(target=lambda: outcomes.append(relay_meanwhile()))
    outcomes = []
    relay.start()
    bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk))
    relay.join()

    assert outcomes == [{"done": 1}] and len(runs) == 2  # the relay delivered it, while the first run waited
    assert Account.objects.filter(username__startswith="effect").count() == 1
    row = Delivery.objects.get(policy="tests.slow")
    assert (row.status, row.attempts) == ("done", 1)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks and deadlocks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_four_batched_workers_on_shared_stock_drain_without_deadlock_and_apply_each_once(relay_only, caplog):
    """Every cancelled order releases the stock of a few shared books; four
    workers deliver the releases in batches at once. Unordered, their row
    locks would cross; the batches lock the stock in book order first
    (``locks=``), so none is rolled back for a deadlock."""
    relay_only.MESSAGING_RELAY_BATCH = 10
    relay_only.ORDERS_MAX_HELD_COPIES = 180  # one customer holds 60 orders of 3 copies before cancelling them
    books = [BookFactory(inventory__on_hand=1000) for _ in range(5)]
    customer = AccountFactory()
    rng = random.Random(16)
    orders = [
        _ok(bus.dispatch(place(customer, *((book, 1) for book in rng.sample(books, 3))))).order_id for _ in range(60)
    ]
    for order_id in orders:
        _ok(bus.dispatch(CancelOrder(order_id=order_id, actor_id=customer.pk)))
    deliveries = Delivery.objects.filter(status="pending").count()

    def worker():
        delivered = 0
        while (claim := claiming.claim_due(20)).ids:
            delivered += sum(runner.deliver_claimed(claim).values())
            time.sleep(0)
        return delivered

    with caplog.at_level(logging.INFO, logger="messaging.delivery"):
        results = run_concurrently([worker, worker, worker, worker])

    assert [r for r in results if isinstance(r, Exception)] == []
    assert deliveries >= len(orders) and sum(results) == deliveries
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    assert [r.message for r in caplog.records if "conflicted" in r.message] == []
    assert {figures(book) for book in books} == {(1000, 0)}  # each order's copies released once


@pytest.mark.django_db(transaction=True)
def test_right_after_a_commit_a_command_refused_by_its_policy_is_recorded_and_undoes_only_its_own_writes(
    scratch_registry,
):
    scratch_registry.register_handler(WriteThenRefuse, write_then_refuse)
    scratch_registry.subscribe(AccountBlocked, lambda event: [WriteThenRefuse(refuse=True)], name="tests.refusing")
    register_counting(scratch_registry, on=AccountBlocked)
    blocker, blocked = AccountFactory(), AccountFactory()
    accounts = Account.objects.count()
    with CaptureQueriesContext(connection) as queries:
        block = bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=blocked.pk)).events[0]

    assert Account.objects.count() == accounts  # the refused handler's write was undone
    assert StoredEvent.objects.filter(type="FollowRejected", causation_id=block.event_id).count() == 1
    assert set(Delivery.objects.filter(event_id=block.event_id).values_list("status", flat=True)) == {"done"}
    assert counted() == {str(block.event_id): 1}
    # Savepoints only where the refusal needed them: its delivery's second run.
    assert [query["sql"].split()[0] for query in queries.captured_queries].count("SAVEPOINT") == 1


def _ok(result):
    assert result.ok, result.rejection
    return result.events[0]


@pytest.mark.django_db(transaction=True)
def test_a_batch_writes_the_events_its_deliveries_append_in_one_insert(scratch_registry, relay_only):
    register_counting(scratch_registry, on=AccountBlocked)
    events = blocks(4)
    claim = claiming.claim_due(50)
    with CaptureQueriesContext(connection) as queries:
        runner.deliver_claimed(claim)

    event_inserts = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "messaging_storedevent"')
    ]
    assert len(event_inserts) == 1
    assert counted() == {str(event.event_id): 1 for event in events}


@dataclass(frozen=True, kw_only=True)
class ReadTheLog(Command):
    """Counts the ``LogRead`` events stored so far."""


@dataclass(frozen=True, kw_only=True)
class LogRead(Event):
    seen: int


def read_the_log(command: ReadTheLog):
    return [LogRead(seen=StoredEvent.objects.filter(type="LogRead").count())]


@pytest.mark.django_db(transaction=True)
def test_what_a_batch_holds_to_append_is_written_before_anything_in_it_reads_the_log(scratch_registry, relay_only):
    scratch_registry.register_handler(ReadTheLog, read_the_log)
    scratch_registry.register_events(LogRead)
    scratch_registry.subscribe(AccountBlocked, lambda event: [ReadTheLog()], name="tests.reading")
    blocks(3)
    claim = claiming.claim_due(50)
    runner.deliver_claimed(claim)

    stored = StoredEvent.objects.filter(type="LogRead").order_by("position").values_list("payload__seen", flat=True)
    assert list(stored) == [0, 1, 2]  # each read saw the events the batch's earlier deliveries appended
