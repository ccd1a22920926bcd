"""The social graph's rules under real concurrency (PostgreSQL row locks)."""

import random
from itertools import permutations

import pytest
from django.core.management import call_command
from django.db.models import Exists, OuterRef, Q

from accounts.commands import BlockAccount, FollowAccount, RegisterAccount, UnblockAccount
from accounts.models import Account, Block, Follow
from accounts.values import Email, Password, Username
from messaging import bus
from messaging.messages import Result
from tests.concurrency import run_concurrently
from tests.factories import AccountFactory

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


def test_concurrent_registrations_with_one_email_in_different_cases_make_one_account():
    def register(index):
        return lambda: bus.dispatch(
            RegisterAccount(
                email=Email("Same@Example.com".upper() if index % 2 else "same@example.com"),
                username=Username(f"user_{index}"),
                password=Password("pw-12345678"),
            )
        )

    results = run_concurrently([register(i) for i in range(10)])

    assert Account.objects.count() == 1
    assert sum(result.ok for result in results) == 1
    assert {result.rejection.code for result in results if not result.ok} == {"account_already_exists"}
