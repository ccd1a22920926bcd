"""Severing every follow of a big account: sibling batches, each its own
delivery and transaction, bounded in rows and in statement size, exactly
once even across a crash."""

import re
import sqlite3
from datetime import timedelta
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts import repositories
from accounts.commands import DeactivateAccount
from accounts.models import Account, AccountStats, Follow
from accounts.projections import recount
from messaging import bus, store
from messaging.models import Delivery, StoredEvent
from messaging.registry import registry
from messaging.testing import relay

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'sqlite'", reason="lowers SQLite's own parameter limit"),
]

BATCH = 50
PARAMETER_LIMIT = 120
BOOKKEEPING = 5  # the kernel's own rows beside a batch: its event, the deliveries it opens, its delivery's mark


class Ledger:
    """Watches every statement (``connection.execute_wrapper``) and commit:
    the most parameters one statement carried, the most rows one transaction
    wrote (``most_rows``) and one that committed wrote (``most_committed``),
    and the most reads of follows one transaction made."""

    def __init__(self):
        self.most_parameters = self.most_rows = self.most_committed = self.rows = 0
        self.most_follow_reads = self.follow_reads = 0

    def watching(self, commit):
        def counted_commit():
            self.most_committed = max(self.most_committed, self.rows)
            return commit()

        return counted_commit

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("BEGIN"):
            self.rows = self.follow_reads = 0
        result = execute(sql, params, many, context)
        self.most_parameters = max(self.most_parameters, len(params or ()))
        self.follow_reads += sql.startswith("SELECT") and 'FROM "accounts_follow"' in sql
        self.most_follow_reads = max(self.most_follow_reads, self.follow_reads)
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if verb == "INSERT":
            self.rows += len(re.findall(r"\)\s*,\s*\(", sql)) + 1
        elif verb in ("UPDATE", "DELETE"):
            self.rows += max(context["cursor"].rowcount, 0)
        self.most_rows = max(self.most_rows, self.rows)
        return result


@pytest.fixture
def carol(settings):
    """carol, followed by 1,000 accounts and following 500 of them."""
    settings.MESSAGING_FANOUT_BATCH_SIZE = BATCH
    carol = Account.objects.create(username="carol", email="carol@example.com")
    others = Account.objects.bulk_create(
        Account(username=f"reader{i}", email=f"reader{i}@example.com") for i in range(1000)
    )
    Follow.objects.bulk_create(
        [Follow(follower=other, followee=carol) for other in others]
        + [Follow(follower=carol, followee=other) for other in others[::2]]
        + [Follow(follower=others[1], followee=others[2])]  # a bystander's follow, which stays
    )
    recount([carol.pk, *(other.pk for other in others)])
    return carol


@pytest.fixture
def lowered_parameter_limit():
    connection.ensure_connection()
    before = connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, PARAMETER_LIMIT)
    yield
    connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


def settle():
    relay("--batch", str(BATCH))


def severed_pairs() -> list[tuple[str, str]]:
    pairs = []
    for payload in StoredEvent.objects.filter(type="FollowsSevered").values_list("payload", flat=True):
        pairs += [(follower, payload["account_id"]) for follower in payload["followers"]]
        pairs += [(payload["account_id"], followee) for followee in payload["followees"]]
    return pairs


def test_deactivating_a_big_account_severs_every_follow_in_bounded_batches(carol, lowered_parameter_limit, monkeypatch):
    ledger = Ledger()
    monkeypatch.setattr(connection, "commit", ledger.watching(connection.commit))
    with connection.execute_wrapper(ledger):
        result = bus.dispatch(DeactivateAccount(account_id=carol.pk))
        settle()

    assert result.ok
    assert not Follow.objects.filter(follower=carol).exists() and not Follow.objects.filter(followee=carol).exists()
    assert Follow.objects.count() == 1
    assert len(severed_pairs()) == len(set(severed_pairs())) == 1500
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    scheduled = StoredEvent.objects.filter(type="FollowBatchScheduled").values_list("payload", flat=True)
    assert any(payload["batch_starts"] for payload in scheduled)  # 60 batches: groups of them, then each alone
    assert ledger.most_parameters <= PARAMETER_LIMIT
    assert 0 < ledger.most_committed <= BATCH + BOOKKEEPING
    # A relay batch that crossed the bound with its last delivery rolls back and
    # runs again without it: it held at most that one more.
    assert ledger.most_rows <= 2 * BATCH + BOOKKEEPING
    # A batch's ids and its locked rows; the parts that schedule others read none
    # (a relay transaction may hold many of them, and each read walks every follow).
    assert ledger.most_follow_reads <= 2
    assert AccountStats.objects.get(account_id=carol.pk).followers_count == 0
    assert set(AccountStats.objects.exclude(account_id=carol.pk).values_list("following_count", flat=True)) == {0, 1}
    call_command("check_invariants", stdout=open("/dev/null", "w"))


def test_the_request_that_deactivates_does_a_bounded_part_and_the_relay_the_rest(carol, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT_LIMIT = 4

    bus.dispatch(DeactivateAccount(account_id=carol.pk))

    left = Delivery.objects.filter(status="pending").count()
    assert left > 0 and Follow.objects.filter(followee=carol).exists()
    settle()
    assert not Follow.objects.filter(followee=carol).exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}


def test_a_part_scheduled_by_an_earlier_release_reads_its_range_and_splits_it(carol):
    """v1 of ``FollowBatchScheduled`` carried no batch starts: its delivery
    reads the follows of its range, as the first part does."""
    carol.is_active = False
    carol.save(update_fields=["is_active"])
    ids = Follow.objects.filter(Q(follower=carol) | Q(followee=carol)).order_by("pk").values_list("pk", flat=True)
    event = StoredEvent.objects.create(
        event_id=uuid4(),
        type="FollowBatchScheduled",
        version=1,
        payload={
            "account_id": str(carol.pk),
            "reason": "account_deactivated",
            "first_follow": ids.first(),
            "last_follow": ids.last(),
        },
        occurred_at=timezone.now(),
        command_id=uuid4(),
        command_type="SeverAllFollows",
        correlation_id=uuid4(),
    )
    loaded = store.load(event)
    assert (loaded.batch_starts, loaded.version) == ((), 2)
    Delivery.objects.create(event=event, policy=registry.policies_for(loaded)[0].name)

    settle()

    assert len(severed_pairs()) == len(set(severed_pairs())) == 1500
    assert Follow.objects.count() == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}


class Crash(BaseException):
    """The worker's process dies (nothing in the kernel catches it)."""


def test_a_crash_after_some_batches_resumes_and_removes_each_follow_once(carol, settings, monkeypatch):
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    remove_follows = repositories.remove_follows
    calls = []

    def dies_on_the_fourth_batch(follow_ids):
        calls.append(len(follow_ids))
        if len(calls) == 4:
            raise Crash
        return remove_follows(follow_ids)

    monkeypatch.setattr(repositories, "remove_follows", dies_on_the_fourth_batch)
    bus.dispatch(DeactivateAccount(account_id=carol.pk))
    with pytest.raises(Crash):
        settle()
    # What committed before the crash stays; the batch it hit rolled back, with
    # any the relay delivered in the same transaction.
    assert 1 <= StoredEvent.objects.filter(type="FollowsSevered").count() < 4
    assert Follow.objects.filter(followee=carol).exists()

    # the worker is gone: its leases run out, and another worker takes over
    monkeypatch.setattr(repositories, "remove_follows", remove_follows)
    Delivery.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    settle()

    assert len(severed_pairs()) == len(set(severed_pairs())) == 1500
    assert Follow.objects.count() == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"done"}
    call_command("check_invariants", stdout=open("/dev/null", "w"))
