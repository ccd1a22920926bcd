"""Delivery guarantees: exactly-once effects, isolation, retry, dead letter, relay."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountBlocked
from accounts.models import Follow
from messaging import bus
from messaging import relay as runner
from messaging.delivery import claiming
from messaging.models import Delivery, StoredEvent
from messaging.testing import subscribed
from tests.support.factories import AccountFactory, FollowFactory

SPY = "tests.spy"
ON_BLOCK = "accounts.policies.remove_follows_on_block"


class FlakyPolicy:
    """Fails ``failures`` times, then records each event it handled."""

    def __init__(self, failures: int):
        self.failures = failures
        self.handled = []

    def __call__(self, event):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the mail server is down")
        self.handled.append(event.event_id)


def make_due(delivery_row: Delivery) -> None:
    Delivery.objects.filter(pk=delivery_row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def relay():
    call_command("relay_events", stdout=open("/dev/null", "w"))


@pytest.fixture
def pair(db):
    alice, bob = AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)
    return alice, bob


def test_a_failing_policy_leaves_the_command_committed_and_other_policies_done(pair, scenario):
    alice, bob = pair
    flaky = FlakyPolicy(failures=1)

    with subscribed(AccountBlocked, flaky, name=SPY):
        outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    outcome.then_events(AccountBlocked).then_deliveries(done=1, failed=1)  # the block policy; the spy
    failed = Delivery.objects.get(policy=SPY)
    assert (failed.attempts, failed.last_error) == (1, "ConnectionError: the mail server is down")
    assert failed.next_attempt_at > timezone.now()
    assert not Follow.objects.exists()  # the other policy still ran


def test_a_failed_delivery_is_retried_by_the_relay_and_applied_exactly_once(pair, scenario):
    alice, bob = pair
    flaky = FlakyPolicy(failures=1)
    with subscribed(AccountBlocked, flaky, name=SPY):
        scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        failed = Delivery.objects.get(policy=SPY)

        relay()  # not due yet: nothing happens
        assert flaky.handled == []

        make_due(failed)
        relay()
        relay()
        runner.deliver(failed.pk)

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("done", 2, "")
    assert flaky.handled == [failed.event_id]
    # the trace counts it as a worker's: only the run that marked it done counts
    on_block = Delivery.objects.get(policy=ON_BLOCK)
    assert (on_block.ran_on_commit, failed.ran_on_commit) == (True, False)


def test_retries_back_off_exponentially(pair, scenario, settings):
    settings.MESSAGING_RETRY_BASE_SECONDS = 10
    alice, bob = pair
    with subscribed(AccountBlocked, FlakyPolicy(failures=5), name=SPY):
        scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        row = Delivery.objects.get(policy=SPY)
        delays = []
        for _ in range(3):
            row.refresh_from_db()
            delays.append((row.next_attempt_at - timezone.now()).total_seconds())
            make_due(row)
            runner.deliver(row.pk)

    assert [round(delay, -1) for delay in delays] == [10, 20, 40]


def test_a_policy_failing_every_time_is_dead_lettered_and_an_operator_retry_delivers_it(pair, scenario, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 3
    alice, bob = pair
    flaky = FlakyPolicy(failures=3)
    with subscribed(AccountBlocked, flaky, name=SPY):
        scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        row = Delivery.objects.get(policy=SPY)
        for _ in range(5):
            make_due(row)
            relay()
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("dead", 3)
        assert flaky.handled == []

        assert claiming.reopen([row.pk]) == 1
        relay()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("done", 1)
    assert flaky.handled == [row.event_id]


def test_a_crash_between_commit_and_delivery_is_recovered_by_the_relay(pair):
    """In a test transaction the on-commit callbacks never run: exactly what
    a process killed right after its commit leaves behind."""
    alice, bob = pair

    bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    assert Follow.objects.exists()
    assert Delivery.objects.get(policy=ON_BLOCK).status == "pending"

    relay()

    assert not Follow.objects.exists()
    assert Delivery.objects.get(policy=ON_BLOCK).status == "done"


def test_delivering_a_done_delivery_again_changes_nothing(pair, scenario):
    alice, bob = pair
    outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    done = Delivery.objects.get(policy=ON_BLOCK)
    events_before = len(outcome.cascade)

    assert runner.deliver(done.pk) is None
    relay()

    assert len(outcome.cascade) == events_before


def test_a_policy_effect_that_fails_midway_leaves_none_of_its_writes(pair, scenario):
    """The policy's commands and its delivery record commit together: a
    policy that dispatched one command and then raised undoes that command."""
    alice, bob = pair
    carol = AccountFactory()

    def follow_then_fail(event):
        yield FollowAccount(follower_id=carol.pk, followee_id=alice.pk)
        raise RuntimeError("half way")

    with subscribed(AccountBlocked, follow_then_fail, name=SPY):
        scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    assert not Follow.objects.filter(follower=carol).exists()
    assert Delivery.objects.get(policy=SPY).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_after_a_real_commit_a_policy_failing_midway_leaves_none_of_its_writes_and_one_counted_attempt():
    """On the on-commit path the claim and the policy share one transaction
    with no savepoint: a failure rolls back both, and a second transaction
    records the failure on the row, counted once."""
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)

    def follow_then_fail(event):
        yield FollowAccount(follower_id=carol.pk, followee_id=alice.pk)
        raise RuntimeError("half way")

    with subscribed(AccountBlocked, follow_then_fail, name=SPY):
        bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    assert not Follow.objects.filter(follower=carol).exists()
    assert not StoredEvent.objects.filter(type="AccountFollowed").exists()
    failed = Delivery.objects.get(policy=SPY)
    assert (failed.status, failed.attempts, failed.delivered_at) == ("failed", 1, None)
    assert "half way" in failed.last_error and failed.next_attempt_at > timezone.now()
    assert Delivery.objects.get(policy=ON_BLOCK).status == "done"


def test_an_event_the_code_can_no_longer_read_fails_its_delivery_without_stopping_the_relay(pair, scenario, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 2
    alice, bob = pair
    unreadable = StoredEvent.objects.create(
        event_id=uuid.uuid4(),
        type="RetiredEventType",
        version=1,
        payload={},
        occurred_at=timezone.now(),
        command_id=uuid.uuid4(),
        command_type="RetiredCommand",
        correlation_id=uuid.uuid4(),
    )
    stuck = Delivery.objects.create(event=unreadable, policy="accounts.policies.remove_follows_on_block")
    bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))  # its delivery waits for the relay

    relay()
    make_due(stuck)
    relay()

    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == ("dead", 2)
    assert stuck.last_error.startswith("KeyError")
    assert not Follow.objects.exists()  # the other delivery went through


def test_one_relay_run_delivers_everything_due_batch_after_batch(db):
    pairs = [(AccountFactory(), AccountFactory()) for _ in range(3)]
    for alice, bob in pairs:
        FollowFactory(follower=alice, followee=bob)
        bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))  # deliveries left to the relay

    call_command("relay_events", "--batch", "1", stdout=open("/dev/null", "w"))

    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    assert not Follow.objects.exists()


@pytest.mark.parametrize("outside", [False, True], ids=["database policy", "outside effect"])
def test_a_worker_whose_lease_was_taken_over_leaves_the_row_to_its_new_owner(pair, settings, outside):
    """Worker A's lease runs out while it stalls; worker B takes the row
    over and fails it (a retry is now due later). When A wakes up, it must
    neither run the policy again nor skip the backoff B set."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    alice, bob = pair
    flaky = FlakyPolicy(failures=5)
    with subscribed(AccountBlocked, flaky, name=SPY, outside=outside):
        bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        row = Delivery.objects.get(policy=SPY)
        stale = claiming.claim_due(10)
        make_due(row)  # A's lease has run out
        fresh = claiming.claim_due(10)
        assert row.pk in stale.ids and row.pk in fresh.ids and stale.lease != fresh.lease

        assert runner.deliver_claimed(claiming.Claim(fresh.lease, [row.pk])) == {"failed": 1}
        assert runner.deliver_claimed(claiming.Claim(stale.lease, [row.pk])) == {"skipped": 1}

    row.refresh_from_db()
    assert (row.status, row.attempts, flaky.failures) == ("failed", 1, 4)
    assert row.next_attempt_at > timezone.now()


def test_an_outside_effect_is_never_run_by_the_commit_that_opened_it(pair, scenario):
    alice, bob = pair
    sent = []
    with subscribed(AccountBlocked, lambda event: sent.append(event.event_id), name=SPY, outside=True):
        scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        assert sent == [] and Delivery.objects.get(policy=SPY).status == "pending"
        relay()

    row = Delivery.objects.get(policy=SPY)
    assert (row.status, row.outside, len(sent)) == ("done", True, 1)


@pytest.mark.django_db(transaction=True)  # real commits: the on-commit path runs as in a request
def test_a_relay_only_policy_is_never_run_by_the_commit_that_opened_it():
    alice, bob = AccountFactory(), AccountFactory()
    seen = {"at once": [], "relay only": []}
    with (
        subscribed(AccountBlocked, lambda event: seen["at once"].append(event.event_id), name=f"{SPY}.now"),
        subscribed(AccountBlocked, lambda event: seen["relay only"].append(event.event_id), name=SPY, relay_only=True),
    ):
        assert bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk)).ok
        assert (len(seen["at once"]), seen["relay only"]) == (1, [])
        assert Delivery.objects.get(policy=SPY).status == "pending"
        relay()

    assert len(seen["relay only"]) == 1 and Delivery.objects.get(policy=SPY).status == "done"
