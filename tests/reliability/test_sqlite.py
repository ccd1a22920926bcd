"""SQLite as the product runs it: WAL, a busy timeout, IMMEDIATE transactions."""

import pytest
from django.db import connection

from accounts.commands import FollowAccount
from accounts.models import Follow
from messaging import bus
from tests.support.concurrency import run_concurrently
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="about SQLite")


@pytest.mark.django_db
def test_the_connection_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(settings):
    with connection.cursor() as cursor:
        journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        busy_timeout = cursor.execute("PRAGMA busy_timeout").fetchone()[0]

    assert journal_mode == "wal"
    assert busy_timeout == settings.DATABASES["default"]["OPTIONS"]["timeout"] * 1000 > 0
    assert connection.transaction_mode == "IMMEDIATE"


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_queue_instead_of_failing_with_database_is_locked():
    followee = AccountFactory()
    followers = [AccountFactory() for _ in range(8 * 10)]

    def writer(chunk):
        return [bus.dispatch(FollowAccount(follower_id=f.pk, followee_id=followee.pk)).ok for f in chunk]

    results = run_concurrently([lambda chunk=followers[i::8]: writer(chunk) for i in range(8)])

    assert [r for r in results if isinstance(r, Exception)] == []
    assert all(all(oks) for oks in results)
    assert Follow.objects.filter(followee=followee).count() == 80
