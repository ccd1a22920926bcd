"""The social graph's rules under real concurrency (PostgreSQL row locks)."""

import random
import threading
from itertools import permutations

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from accounts import projections
from accounts.commands import BlockAccount, FollowAccount, RegisterAccount, UnblockAccount, UnfollowAccount
from accounts.events import AccountFollowed
from accounts.models import Account, Block, Follow
from accounts.values import Email, Password, Username
from messaging import bus, middleware
from messaging.messages import Result
from tests.support.concurrency import run_concurrently
from tests.support.factories import AccountFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def follows_across_a_block():
    blocked = Block.objects.filter(
        Q(blocker=OuterRef("follower"), blocked=OuterRef("followee"))
        | Q(blocker=OuterRef("followee"), blocked=OuterRef("follower"))
    )
    return Follow.objects.filter(Exists(blocked))


def test_concurrent_follows_and_blocks_leave_no_follow_between_blocked_accounts():
    accounts = [AccountFactory().pk for _ in range(4)]
    pairs = list(permutations(accounts, 2))
    rng = random.Random(7)

    def worker():
        outcomes = []
        for _ in range(40):
            first, second = rng.choice(pairs)
            command = rng.choice([FollowAccount, FollowAccount, BlockAccount, UnblockAccount])
            if command is FollowAccount:
                outcomes.append(bus.dispatch(FollowAccount(follower_id=first, followee_id=second)))
            elif command is BlockAccount:
                outcomes.append(bus.dispatch(BlockAccount(blocker_id=first, blocked_id=second)))
            else:
                outcomes.append(bus.dispatch(UnblockAccount(blocker_id=first, blocked_id=second)))
        return outcomes

    results = run_concurrently([worker for _ in range(8)])
    call_command("relay_events", stdout=open("/dev/null", "w"))

    errors = [result for result in results if isinstance(result, Exception)]
    assert errors == []
    assert all(isinstance(outcome, Result) for outcomes in results for outcome in outcomes)
    assert not follows_across_a_block().exists()


def test_a_follow_racing_a_block_of_the_same_pair_never_survives_it():
    for _ in range(20):
        alice, bob = AccountFactory(), AccountFactory()

        run_concurrently(
            [
                lambda alice=alice, bob=bob: bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)),
                lambda alice=alice, bob=bob: bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk)),
            ]
        )

        assert Block.objects.filter(blocker=bob, blocked=alice).exists()
        assert not Follow.objects.filter(follower=alice, followee=bob).exists()


def test_concurrent_registrations_with_one_email_in_different_cases_make_one_account_and_tell_nobody():
    def register(index):
        return lambda: bus.dispatch(
            RegisterAccount(
                email=Email("Same@Example.com".upper() if index % 2 else "same@example.com"),
                username=Username(f"user_{index}"),
                password=Password("pw-12345678"),
            )
        )

    results = run_concurrently([register(i) for i in range(10)])

    # one account; every other sign-up, losing the race or not, answered as a new one would
    # and mailed the owner instead (no refusal says the address is taken)
    (account,) = Account.objects.all()
    assert all(result.ok for result in results)
    outcomes = sorted(type(result.events[0]).__name__ for result in results)
    assert outcomes == ["AccountRegistered"] + ["SignUpWithTakenEmail"] * 9
    assert {result.events[0].account_id for result in results} == {account.pk}


def test_follows_both_ways_at_once_finish_without_a_deadlock_and_the_counts_match(monkeypatch):
    monkeypatch.setattr(middleware, "MAX_ATTEMPTS", 1)  # a deadlock would fail the command, not be retried
    alice, bob = AccountFactory(), AccountFactory()

    def both_ways(first, second):
        def run():
            for _ in range(15):
                for command in (FollowAccount, UnfollowAccount):
                    assert bus.dispatch(command(follower_id=first.pk, followee_id=second.pk)).ok
            return bus.dispatch(FollowAccount(follower_id=first.pk, followee_id=second.pk))

        return run

    results = run_concurrently([both_ways(alice, bob), both_ways(bob, alice)])

    assert [result for result in results if isinstance(result, Exception)] == []
    assert list(projections.drift()) == []
    assert {(row.follower_id, row.followee_id) for row in Follow.objects.all()} == {
        (alice.pk, bob.pk),
        (bob.pk, alice.pk),
    }


class HoldsAfterFirstCount:
    """Makes a thread wait, after its first UPDATE of a counts row, until the
    other thread has made its own (or a moment has passed): the interleaving
    where two transactions each hold one of the two rows."""

    def __init__(self, meeting: threading.Barrier):
        self.meeting, self.held = meeting, False

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.held and sql.startswith("UPDATE") and "accountstats" in sql:
            self.held = True
            try:
                self.meeting.wait(timeout=2)
            except threading.BrokenBarrierError:  # the other one waits for this row: as it should
                pass
        return result


def test_the_projector_moves_a_pair_of_counts_in_account_order_so_crossed_follows_queue():
    alice, bob = AccountFactory(), AccountFactory()
    meeting = threading.Barrier(2)

    def follow(first, second):
        def run():
            with connection.execute_wrapper(HoldsAfterFirstCount(meeting)), transaction.atomic():
                projections.count_follow(AccountFollowed(follower_id=first.pk, followee_id=second.pk))

        return run

    results = run_concurrently([follow(alice, bob), follow(bob, alice)])

    assert results == [None, None]  # no deadlock detected in either
    assert [projections.snapshot()[person.pk] for person in (alice, bob)] == [(1, 1), (1, 1)]
