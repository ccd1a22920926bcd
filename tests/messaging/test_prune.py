"""Pruning: idempotency records and settled deliveries past the retention go,
each policy's start moves past the events whose deliveries went, so no
invariant, sweep or replay finds them owed again; events stay."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.commands import AddBook
from catalog.values import Money
from messaging import bus
from messaging.features import retention, subscriptions
from messaging.models import Delivery, IdempotentResponse, ProcessedCommand, ScheduledCommand, StoredEvent, Subscription
from messaging.operations.invariants import every_event_has_its_deliveries
from messaging.testing import relay
from orders.commands import ConfirmOrder
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db

STOCK = "catalog.policies.stock_new_book"
LATER = timedelta(days=1)


@pytest.fixture(autouse=True)
def settled_at_once(settings):
    # The sweep may look at events as soon as they are stored, and the relay
    # delivers what the test stored; so a prune may go as far as it can.
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_SWEEP_SAFETY_SECONDS = 0


def books(count: int) -> list:
    """``count`` books added, their stocking delivered: their BookAdded events."""
    added = [
        bus.dispatch(AddBook(title=f"Book {n}", author="A. Writer", price=Money(Decimal("9.99")))).events[0]
        for n in range(count)
    ]
    relay()
    return added


def position(event) -> int:
    return StoredEvent.objects.get(event_id=event.event_id).position


def kept(event) -> bool:
    return Delivery.objects.filter(event=event.event_id, policy=STOCK).exists()


def all_rules_hold() -> bool:
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    return out.getvalue().startswith("all ")


def test_settled_deliveries_go_behind_a_moved_start_and_every_rule_still_holds():
    # given three books added, their stocking delivered
    added = books(3)
    events_before = StoredEvent.objects.count()

    # when everything settled is past its retention
    retention.prune(before=timezone.now() + LATER)

    # then no delivery is left, the events are, and nothing is owed again
    assert not Delivery.objects.exists()
    assert StoredEvent.objects.count() == events_before
    assert Subscription.objects.get(name=STOCK).starts_after == position(added[-1])
    assert all_rules_hold()
    assert subscriptions.sweep() == 0


def test_settled_schedules_go_and_a_waiting_one_stays(settings):
    # given three orders: one confirmed in time (its expiry cancelled), one
    # expired (its expiry dispatched), one still waiting for its time
    settings.ORDER_CONFIRM_TIMEOUT = 3600
    customer = AccountFactory()
    book = BookFactory(inventory__on_hand=3)
    confirmed, expired, waiting = (bus.dispatch(place(customer, (book, 1))).events[0].order_id for _ in range(3))
    bus.dispatch(ConfirmOrder(order_id=confirmed, actor_id=customer.pk))
    ScheduledCommand.objects.filter(key=f"ExpireOrder:{expired}").update(not_before=timezone.now())
    relay()
    statuses = dict(ScheduledCommand.objects.values_list("key", "status"))
    assert sorted(statuses.values()) == ["cancelled", "done", "waiting"]

    retention.prune(before=timezone.now() + LATER)

    # then only the waiting one is left, and it still runs when due
    assert list(ScheduledCommand.objects.values_list("key", flat=True)) == [f"ExpireOrder:{waiting}"]
    assert all_rules_hold()


def test_an_open_delivery_holds_the_start_back_and_keeps_the_deliveries_after_it():
    # given three books, the second one's stocking still failing
    first, second, third = books(3)
    Delivery.objects.filter(event=second.event_id, policy=STOCK).update(status=Delivery.Status.FAILED)

    retention.prune(before=timezone.now() + LATER)

    # then the start stops just before it: the first's delivery went, the others stay
    assert Subscription.objects.get(name=STOCK).starts_after == position(second) - 1
    assert (kept(first), kept(second), kept(third)) == (False, True, True)
    assert list(every_event_has_its_deliveries()) == []


def test_deliveries_settled_within_the_retention_stay():
    (added,) = books(1)

    retention.prune(before=timezone.now() - LATER)

    assert kept(added)
    assert Subscription.objects.get(name=STOCK).starts_after < position(added)


def test_after_a_prune_a_replay_reopens_only_what_it_is_asked_from_before_the_start():
    # given pruned stockings, then a new one not yet delivered
    pruned = books(2)
    retention.prune(before=timezone.now() + LATER)
    mark = Subscription.objects.get(name=STOCK).starts_after

    # then a replay from after the start opens nothing
    assert subscriptions.replay(STOCK, after=mark) == 0

    # and one from before it, on purpose, re-opens the pruned deliveries
    assert subscriptions.replay(STOCK, after=position(pruned[0]) - 1, force=True) == 2
    assert all(kept(event) for event in pruned)


def test_a_replay_from_before_a_pruned_mark_is_refused_without_force():
    # given stockings delivered, then pruned: the ledger no longer knows they ran
    pruned = books(2)
    retention.prune(before=timezone.now() + LATER)
    mark = Subscription.objects.get(name=STOCK).starts_after

    # when: a replay from before the mark, without --force
    with pytest.raises(subscriptions.ReplayRefused, match=f"pruned up to #{mark}"):
        subscriptions.replay(STOCK, after=position(pruned[0]) - 1)
    out = io.StringIO()
    with pytest.raises(CommandError, match="--force") as refused:
        call_command("replay", STOCK, "--from", str(position(pruned[0])), stdout=out, stderr=out)

    # then: nothing was reopened, nothing runs twice
    assert refused.value.returncode == 1
    assert not any(kept(event) for event in pruned)
    assert Subscription.objects.get(name=STOCK).starts_after == mark


def test_idempotency_records_past_the_retention_go_and_younger_ones_stay():
    old, young = timezone.now() - timedelta(days=40), timezone.now()
    for when, key in ((old, "old"), (young, "young")):
        ProcessedCommand.objects.create(idempotency_key=key, command_type="FollowAccount", created_at=when)
        IdempotentResponse.objects.create(idempotency_key=key, status=200, body="{}", created_at=when)

    call_command("prune", "--batch", "1", stdout=io.StringIO(), stderr=io.StringIO())

    assert list(ProcessedCommand.objects.values_list("idempotency_key", flat=True)) == ["young"]
    assert list(IdempotentResponse.objects.values_list("idempotency_key", flat=True)) == ["young"]


def test_a_dry_run_says_what_it_would_remove_and_removes_nothing():
    books(2)
    Delivery.objects.update(delivered_at=timezone.now() - timedelta(days=40))
    out = io.StringIO()

    call_command("prune", "--dry-run", stdout=out)

    assert f"deliveries of {STOCK}: would remove 2" in out.getvalue()
    assert Delivery.objects.filter(policy=STOCK).count() == 2
    assert Subscription.objects.get(name=STOCK).starts_after == 0


def test_the_start_never_passes_what_the_sweep_has_not_looked_at(settings):
    # given books whose events the sweep has not yet checked (a process of
    # the previous release might still have left one without its delivery)
    settings.MESSAGING_SWEEP_SAFETY_SECONDS = 3600
    (added,) = books(1)
    Subscription.objects.filter(name=STOCK).update(swept_to=0)

    retention.prune(before=timezone.now() + LATER)

    assert Subscription.objects.get(name=STOCK).starts_after == 0
    assert kept(added)
