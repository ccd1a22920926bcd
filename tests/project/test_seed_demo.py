"""seed_demo: through the bus or in bulk, the same rows and events, every rule holding,
and what the rules refused reported in its summary."""

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from accounts.models import Account, AccountStats, Follow
from messaging.models import Delivery, StoredEvent
from tests.project.test_check_invariants import check


def seeded(*flags) -> dict:
    call_command("seed_demo", "--accounts=12", "--follows=30", "--books=3", "--orders=4", *flags, stdout=None)
    return {
        "accounts": Account.objects.count(),
        "stats": AccountStats.objects.count(),
        "follows": Follow.objects.count(),
        "registered": StoredEvent.objects.filter(type="AccountRegistered").count(),
        "followed": StoredEvent.objects.filter(type="AccountFollowed").count(),
        # the orders' confirmation deadlines wait for their time; nothing else is left
        "open deliveries due": Delivery.objects.exclude(status="done")
        .filter(next_attempt_at__lte=timezone.now())
        .count(),
    }


@pytest.mark.django_db(transaction=True)  # real commits, so deliveries run as in production
@pytest.mark.parametrize("flags", [(), ("--bulk",)], ids=["bus", "bulk"])
def test_bus_and_bulk_seed_the_same_counts_and_every_rule_holds(flags):
    counts = seeded(*flags)

    assert counts == {
        "accounts": 12,
        "stats": 12,
        "follows": 30,
        "registered": 12,
        "followed": 30,
        "open deliveries due": 0,
    }
    assert check().startswith("all ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flags", [(), ("--bulk",)], ids=["bus", "bulk"])
def test_a_lowered_follow_limit_holds_for_every_seeded_account(flags, settings):
    # given
    settings.FOLLOW_LIMIT = 3

    # when
    out = io.StringIO()
    call_command("seed_demo", "--accounts=12", "--follows=40", "--books=0", "--orders=0", *flags, stdout=out)

    # then
    most = Follow.objects.values("follower").annotate(n=Count("id")).aggregate(most=Max("n"))["most"]
    assert most == 3 and Follow.objects.count() == 36
    assert "36 follows" in out.getvalue() and "under FOLLOW_LIMIT=3" in out.getvalue()
    assert check().startswith("all ")


@pytest.mark.django_db(transaction=True)
def test_refused_orders_are_counted_in_the_summary_not_raised(settings):
    # given: one book of two copies
    settings.INITIAL_STOCK = 2

    # when
    out = io.StringIO()
    call_command("seed_demo", "--accounts=3", "--follows=0", "--books=1", "--orders=5", stdout=out)

    # then
    assert "1 books, 2 orders; refused: 3 orders (insufficient_stock)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flags", [(), ("--bulk",)], ids=["bus", "bulk"])
def test_off_the_embedded_database_the_accounts_get_a_random_password_printed_once(flags):
    # when seeding a database that is not the embedded demo file (the test's own)
    out = io.StringIO()
    call_command("seed_demo", "--accounts=2", "--follows=0", "--books=0", "--orders=0", *flags, stdout=out)

    # then the published password opens nothing, and the one printed opens every account
    printed = re.search(
        r"Password of every seeded account \(printed this once, stored only hashed\): (\S+)", out.getvalue()
    )
    assert printed is not None and printed[1] != "demo-password"
    accounts = list(Account.objects.all())
    assert len(accounts) == 2
    assert all(
        account.check_password(printed[1]) and not account.check_password("demo-password") for account in accounts
    )
    assert all(account.email_verified for account in accounts)


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_database_the_published_demo_password_is_used(settings, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default is an SQLite file")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.EMBEDDED_DATABASE = connection.settings_dict["NAME"]
    out = io.StringIO()

    call_command("seed_demo", "--accounts=2", "--follows=0", "--books=0", "--orders=0", stdout=out)

    assert all(account.check_password("demo-password") for account in Account.objects.all())
    assert "Password of every seeded account" not in out.getvalue()
