"""A policy declaring an ordering key (``registry.subscribe(...,
ordered_by=)``) takes effect in the order of its events for each key, on
every path: a delivery open or dead holds back the later ones of its key,
and only those; the operator sees what is held and by what. A policy
without a key keeps its parallelism."""

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.commands import BlockAccount
from accounts.events import AccountBlocked
from messaging import bus
from messaging import relay as runner
from messaging.delivery import claiming
from messaging.models import Delivery, StoredEvent
from messaging.operations import invariants, log, metrics
from messaging.testing import subscribed
from tests.support.concurrency import run_concurrently
from tests.support.factories import AccountFactory

ORDERED = "tests.ordered"
UNORDERED = "tests.unordered"


class Service:
    """What the test policies call: down for the blockers in ``down``; what
    each policy handled, in order."""

    def __init__(self):
        self.down: set = set()
        self.handled: dict[str, list] = {ORDERED: [], UNORDERED: []}
        self.check = lambda event: None

    def policy(self, name):
        def run(event):
            if event.blocker_id in self.down:
                raise RuntimeError("the service is down")
            if name == ORDERED:
                self.check(event)
            self.handled[name].append(event.event_id)

        return run


@pytest.fixture
def service():
    service = Service()
    with (
        subscribed(AccountBlocked, service.policy(ORDERED), name=ORDERED, ordered_by=lambda event: event.blocker_id),
        subscribed(AccountBlocked, service.policy(UNORDERED), name=UNORDERED),
    ):
        yield service


@pytest.fixture
def relay_only(settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False


def block(blocker) -> AccountBlocked:
    (event,) = bus.dispatch(BlockAccount(blocker_id=blocker.pk, blocked_id=AccountFactory().pk)).events
    return event


def row(event, policy=ORDERED) -> Delivery:
    return Delivery.objects.get(policy=policy, event_id=event.event_id)


def retry_due(*events) -> None:
    Delivery.objects.filter(event_id__in=[e.event_id for e in events]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def relay_until_settled() -> None:
    while runner.deliver_due(100, outside=False)[0]:
        pass


@pytest.mark.django_db(transaction=True)
def test_a_failing_delivery_right_after_commit_holds_back_the_later_ones_of_its_key_only(service):
    ann, bob = AccountFactory(), AccountFactory()
    # given ann's first block, delivered while the service is down for her
    service.down.add(ann.pk)
    first = block(ann)
    service.down.clear()

    # when ann blocks again, and bob blocks someone, right after their commits
    second, other = block(ann), block(bob)

    # then ann's second waits behind her first, untried; bob's ran
    assert service.handled[ORDERED] == [other.event_id]
    assert row(first).status == Delivery.Status.FAILED
    assert (row(second).status, row(second).attempts) == (Delivery.Status.PENDING, 0)
    assert row(second).ordering_key == str(ann.pk)
    # and the policy without a key ran both of ann's blocks in the meantime
    assert service.handled[UNORDERED] == [second.event_id, other.event_id]

    # and the operator sees what holds it: the list, the figures, a warning
    (held,) = log.deliveries(held=True)
    assert (held.pk, held.held_by) == (row(second).pk, row(first).pk)
    assert metrics.backlog().held == 1
    assert [w for w in invariants.no_delivery_is_held() if "1 deliveries are held back" in w]

    # when the first one's retry comes, the relay runs ann's in the order of her events
    retry_due(first)
    relay_until_settled()
    assert service.handled[ORDERED] == [other.event_id, first.event_id, second.event_id]
    assert metrics.backlog().held == 0


@pytest.mark.django_db(transaction=True)
def test_the_relay_takes_no_delivery_of_a_key_while_an_earlier_one_is_open_or_dead(service, relay_only, settings):
    ann, bob = AccountFactory(), AccountFactory()
    # given three blocks of ann's and one of bob's, left to the relay, the service down for ann
    anns = [block(ann) for _ in range(3)]
    bobs = block(bob)
    service.down.add(ann.pk)

    # when the relay runs: ann's first fails, her others are not even claimed
    relay_until_settled()
    assert service.handled[ORDERED] == [bobs.event_id]
    assert [row(e).status for e in anns] == ["failed", "pending", "pending"]
    assert [row(e).attempts for e in anns] == [1, 0, 0]

    # when ann's first is dead-lettered, it still holds the others back
    settings.MESSAGING_MAX_ATTEMPTS = 2
    retry_due(anns[0])
    relay_until_settled()
    assert [row(e).status for e in anns] == ["dead", "pending", "pending"]
    assert claiming.claim_opened([row(e).pk for e in anns], outside=False).ids == []  # Celery's hand-off too
    assert claiming.claim_queued([row(e).pk for e in anns], outside=False).ids == []  # and its worker

    # when the operator discards it, the rest of ann's flow, in order
    service.down.clear()
    claiming.discard([row(anns[0]).pk])
    relay_until_settled()
    assert service.handled[ORDERED] == [bobs.event_id, anns[1].event_id, anns[2].event_id]


@pytest.mark.django_db(transaction=True)
def test_an_operators_retry_of_a_held_delivery_runs_nothing_until_what_holds_it_settles(service, relay_only):
    ann = AccountFactory()
    service.down.add(ann.pk)
    _first, second = block(ann), block(ann)
    relay_until_settled()

    assert runner.deliver(row(second).pk) is None
    assert row(second).attempts == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_workers_keep_each_keys_order_and_other_keys_flow_while_one_is_held(service, relay_only):
    # given 16 blockers with 6 blocks each, interleaved, and the service down for the first blocker
    blockers = [AccountFactory() for _ in range(16)]
    events = [block(blocker) for _ in range(6) for blocker in blockers]
    held_key = blockers[0]
    service.down.add(held_key.pk)
    out_of_order = []
    positions = dict(StoredEvent.objects.values_list("event_id", "position"))

    def checking(event):
        # an earlier delivery of this key not yet done, seen from inside this one's transaction
        earlier = Delivery.objects.filter(
            policy=ORDERED, ordering_key=str(event.blocker_id), event__position__lt=positions[event.event_id]
        ).exclude(status=Delivery.Status.DONE)
        if earlier.exists():
            out_of_order.append(event.event_id)

    def worker():
        idle = 0
        while idle < 3:
            claimed, _ = runner.deliver_due(5, outside=False)
            idle = 0 if claimed else idle + 1
            time.sleep(0.01)

    # when four relay workers run at once, the ordered policy checking each of its runs
    service.check = checking
    results = run_concurrently([worker] * 4)

    # then nothing failed in the workers, each key took effect in the order of its events
    assert [r for r in results if isinstance(r, Exception)] == []
    assert out_of_order == []
    for blocker in blockers[1:]:
        done = (
            Delivery.objects.filter(policy=ORDERED, ordering_key=str(blocker.pk))
            .order_by("delivered_at", "pk")
            .values_list("event__position", flat=True)
        )
        assert list(done) == sorted(done)
    # and every other key flowed to the end while the first one's key was held
    keyed = {e.event_id for e in events if e.blocker_id != held_key.pk}
    assert set(service.handled[ORDERED]) == keyed
    held = Delivery.objects.filter(policy=ORDERED, ordering_key=str(held_key.pk)).order_by("pk")
    assert [(r.status, r.attempts) for r in held] == [("failed", 1)] + [("pending", 0)] * 5


@pytest.mark.django_db(transaction=True)
def test_deliveries_list_shows_a_held_row_and_what_holds_it(service, relay_only):
    ann = AccountFactory()
    service.down.add(ann.pk)
    first, second = block(ann), block(ann)
    relay_until_settled()

    out = io.StringIO()
    call_command("deliveries", "list", "--held", "--policy", ORDERED, stdout=out, stderr=io.StringIO())

    header, line = out.getvalue().splitlines()
    assert line.split()[:8] == [
        str(row(second).pk),
        "pending",
        ORDERED,
        "AccountBlocked",
        "0",
        "0s",
        "db",
        f"#{row(first).pk}",
    ]
