"""seed_demo: through the bus or in bulk, the same rows and events, every rule holding."""

import pytest
from django.core.management import call_command

from accounts.models import Account, AccountStats, Follow
from messaging.models import Delivery, StoredEvent
from tests.test_check_invariants import check


def seeded(*flags) -> dict:
    call_command("seed_demo", "--accounts=12", "--follows=30", "--books=3", "--orders=4", *flags, stdout=None)
    return {
        "accounts": Account.objects.count(),
        "stats": AccountStats.objects.count(),
        "follows": Follow.objects.count(),
        "registered": StoredEvent.objects.filter(type="AccountRegistered").count(),
        "followed": StoredEvent.objects.filter(type="AccountFollowed").count(),
        "open deliveries": Delivery.objects.exclude(status="done").count(),
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
        "open deliveries": 0,
    }
    assert check().startswith("all ")
