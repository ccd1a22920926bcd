"""Two releases on one ledger (issue 26): a worker takes only the rows of
the policies it knows, at event versions it reads, and never counts an
attempt on the others; a rename keeps the policy's identity (an alias), in
both directions of a deploy; a retirement settles or discards its rows on
purpose. The releases are played by registering and unregistering
policies in this one process, as ``test_subscriptions`` does."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus
from messaging import relay as kernel_relay
from messaging.delivery import workers
from messaging.features import retention, subscriptions
from messaging.models import Delivery, StoredEvent, Subscription
from messaging.registry import RegistryError, registry
from messaging.testing import relay, retired, subscribed
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db

OLD, NEW, OTHER = "tests.welcome", "tests.greet_new_follower", "tests.release_b_only"


class Counting:
    """A policy that counts the events it handled."""

    def __init__(self):
        self.handled = []

    def __call__(self, event):
        self.handled.append(event.event_id)


@pytest.fixture(autouse=True)
def relay_only(settings):
    """Only workers deliver, as during a deploy where nothing runs on commit."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False


def follow() -> AccountFollowed:
    a, b = AccountFactory(), AccountFactory()
    return bus.dispatch(FollowAccount(follower_id=a.pk, followee_id=b.pk)).events[0]


def written_by_release_b(name: str = OTHER) -> Delivery:
    """A follow stored by a process whose release has the policy ``name``,
    which this process (release A) does not know: its row, left open."""
    with subscribed(AccountFollowed, Counting(), name=name):
        subscriptions.start_new()
        event = follow()
    return Delivery.objects.get(event=event.event_id, policy=name)


def invariants() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_invariants", stdout=out, stderr=err)
    except CommandError:
        pass
    return out.getvalue(), err.getvalue()


# --- workers take only what they know ---------------------------------


def test_a_relay_leaves_a_policy_it_does_not_know_uncounted():
    row = written_by_release_b()

    for _ in range(3):
        relay()

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Delivery.Status.PENDING, 0, "")


def test_a_retry_by_hand_does_not_count_an_attempt_on_an_unknown_policy():
    row = written_by_release_b()

    assert kernel_relay.deliver(row.pk) is None

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Delivery.Status.PENDING, 0)


def test_a_worker_leaves_an_event_stored_in_a_newer_version():
    handled = Counting()
    with subscribed(AccountFollowed, handled, name=OLD):
        subscriptions.start_new()
        newer = follow()  # as if release B stored AccountFollowed v2, which this release cannot read
        StoredEvent.objects.filter(event_id=newer.event_id).update(version=AccountFollowed.version + 1)
        Delivery.objects.filter(event=newer.event_id).update(event_version=AccountFollowed.version + 1)
        current = follow()

        relay()

    assert handled.handled == [current.event_id]
    row = Delivery.objects.get(event=newer.event_id, policy=OLD)
    assert (row.status, row.attempts) == (Delivery.Status.PENDING, 0)


def test_the_worker_that_knows_the_policy_runs_it_afterwards():
    row = written_by_release_b()
    relay()  # release A's relay: leaves it

    handled = Counting()
    with subscribed(AccountFollowed, handled, name=OTHER):  # release B's relay
        relay()

    row.refresh_from_db()
    assert row.status == Delivery.Status.DONE and row.attempts == 1
    assert handled.handled == [row.event_id]


# --- what no running worker knows is reported ---------------------------


def test_rows_no_running_worker_knows_are_reported(settings, client):
    settings.MESSAGING_UNKNOWN_DELIVERY_SECONDS = 0
    written_by_release_b()
    workers.announce("web-1:1 relay")  # release A's relay, running
    assert [(found.policy, found.rows) for found in workers.unknown()] == [(OTHER, 1)]

    out = io.StringIO()
    call_command("deliveries", "list", "--unknown", stdout=out)
    assert f"1 open deliveries to {OTHER} (event v1) no running worker knows" in out.getvalue()

    _, warnings = invariants()
    assert f"open deliveries to {OTHER}" in warnings

    client.force_login(AccountFactory(is_staff=True))
    settings.HEALTH_CACHE_SECONDS = 0
    detail = client.get("/health/").json()["deliveries"]
    assert detail["unknown"] == 1


def test_a_row_a_live_worker_knows_is_not_reported(settings):
    settings.MESSAGING_UNKNOWN_DELIVERY_SECONDS = 0
    row = written_by_release_b()
    with subscribed(AccountFollowed, Counting(), name=OTHER):
        workers.announce("web-2:2 relay")  # release B's relay announces it knows OTHER
    workers.announce("web-1:1 relay")

    assert workers.unknown() == []
    assert Delivery.objects.get(pk=row.pk).status == Delivery.Status.PENDING


def test_a_worker_not_heard_from_for_its_lease_is_gone(settings):
    settings.MESSAGING_UNKNOWN_DELIVERY_SECONDS = 0
    written_by_release_b()
    with subscribed(AccountFollowed, Counting(), name=OTHER):
        workers.announce("web-2:2 relay")
    settings.MESSAGING_WORKER_LEASE_SECONDS = -1  # every announcement is older than the lease

    assert [found.policy for found in workers.unknown()] == [OTHER]


def test_a_young_row_is_not_reported_yet(settings):
    settings.MESSAGING_UNKNOWN_DELIVERY_SECONDS = 300
    written_by_release_b()
    workers.announce("web-1:1 relay")

    assert workers.unknown() == []


def test_the_unknown_listing_says_when_all_is_known():
    out = io.StringIO()
    call_command("deliveries", "list", "--unknown", "--json", stdout=out)
    assert out.getvalue() == ""
    out = io.StringIO()
    call_command("deliveries", "list", "--unknown", stdout=out)
    assert "every open delivery" in out.getvalue()


# --- a rename: the alias ---------------------------------------------


def test_a_renamed_policy_runs_the_rows_of_its_old_name():
    with subscribed(AccountFollowed, Counting(), name=OLD):  # release A
        subscriptions.start_new()
        before = follow()
    renamed = Counting()
    with subscribed(AccountFollowed, renamed, name=NEW, aliases=(OLD,)):  # release B
        assert subscriptions.start_new() == [NEW]
        relay()
        relay()

    assert renamed.handled == [before.event_id]
    assert list(Delivery.objects.values_list("policy", "status", "attempts")) == [(OLD, "done", 1)]


def test_the_sweep_opens_no_second_delivery_for_an_event_delivered_under_an_alias():
    renamed = Counting()
    with subscribed(AccountFollowed, renamed, name=NEW, aliases=(OLD,)) as policy:
        subscriptions.start_new()  # release B migrated
        registry.unsubscribe(policy)
        with subscribed(AccountFollowed, Counting(), name=OLD):  # release A's web still serves
            during = follow()
        registry.subscriptions[AccountFollowed].append(policy)
        registry.policies[NEW] = policy
        registry.aliases[OLD] = policy

        relay()  # release B's relay: its sweep runs first
        assert "all" in invariants()[0]

    assert renamed.handled == [during.event_id]
    assert list(Delivery.objects.filter(event=during.event_id).values_list("policy", flat=True)) == [OLD]


def test_a_rollback_opens_no_delivery_under_the_old_name_for_one_under_the_new():
    with subscribed(AccountFollowed, Counting(), name=OLD):  # release A ran
        subscriptions.start_new()
    with subscribed(AccountFollowed, Counting(), name=NEW, aliases=(OLD,)):  # release B ran, then rolled back
        subscriptions.start_new()
        after = follow()
    old = Counting()
    with subscribed(AccountFollowed, old, name=OLD):  # release A again, which knows no rename
        subscriptions.start_new()
        relay()  # its sweep knows the rename from B's subscription
        assert "all" in invariants()[0]

    assert old.handled == []
    assert list(Delivery.objects.filter(event=after.event_id).values_list("policy", flat=True)) == [NEW]


def test_a_new_name_starts_where_its_old_name_stood():
    with subscribed(AccountFollowed, Counting(), name=OLD):
        subscriptions.start_new()
        follow()
    Subscription.objects.filter(name=OLD).update(starts_after=0, swept_to=0)
    with subscribed(AccountFollowed, Counting(), name=NEW, aliases=(OLD,)):
        subscriptions.start_new()

    new = Subscription.objects.get(name=NEW)
    assert (new.starts_after, new.swept_to, new.aliases) == (0, 0, [OLD])


def test_an_alias_is_one_name_among_all_policies():
    with subscribed(AccountFollowed, Counting(), name=NEW, aliases=(OLD,)):
        with pytest.raises(RegistryError, match="already subscribed"):
            registry.subscribe(AccountFollowed, Counting(), name=OLD)


# --- retiring a policy ------------------------------------------------


@pytest.mark.parametrize(("open_rows", "status"), [("settle", "skipped"), ("discard", "discarded")])
def test_a_retired_policy_has_its_open_rows_settled_or_discarded_and_its_subscription_closed(open_rows, status):
    gone = "tests.retired"
    row = written_by_release_b(gone)  # open when the release that retires it deploys
    with retired(gone, open_rows=open_rows):
        subscriptions.start_new()  # migrate
        row.refresh_from_db()
        assert (row.status, row.attempts) == (status, 0)
        assert f"policy {gone} retired ({open_rows})" in row.last_error
        assert Subscription.objects.get(name=gone).retired_at is not None

    later = written_by_release_b(gone)  # the previous release's web still opens them during the deploy
    with retired(gone, open_rows=open_rows):
        relay()  # the sweep settles it
        later.refresh_from_db()
        assert later.status == status

        out, warnings = invariants()
        assert "all" in out and "dead" not in out + warnings


def test_a_retired_subscription_is_never_swept_again():
    gone = "tests.retired"
    written_by_release_b(gone)
    with retired(gone, open_rows="settle"):
        subscriptions.start_new()
    before = Delivery.objects.filter(policy=gone).count()
    handled = Counting()
    with subscribed(AccountFollowed, handled, name=gone):  # a process of the previous release, still running
        follow()
        Delivery.objects.filter(policy=gone, status="pending").delete()  # as if its web had not opened it
        relay()

    assert Delivery.objects.filter(policy=gone).count() == before


def test_retiring_needs_a_known_way_with_open_rows():
    with pytest.raises(RegistryError, match="open_rows is one of 'settle', 'discard'"):
        registry.retire("tests.retired", open_rows="keep")


def test_the_unknown_listing_is_json_for_scripts(settings):
    settings.MESSAGING_UNKNOWN_DELIVERY_SECONDS = 0
    written_by_release_b()
    out = io.StringIO()
    call_command("deliveries", "list", "--unknown", "--json", stdout=out)
    [line] = out.getvalue().splitlines()
    assert json.loads(line) == {"policy": OTHER, "version": 1, "rows": 1, "oldest_seconds": 0}


def test_retention_prunes_a_renamed_policys_rows_under_its_old_name_and_moves_both_marks(settings):
    settings.MESSAGING_SWEEP_SAFETY_SECONDS = 0
    with subscribed(AccountFollowed, Counting(), name=OLD):  # release A
        subscriptions.start_new()
        before = follow()
        relay()
    with subscribed(AccountFollowed, Counting(), name=NEW, aliases=(OLD,)):  # release B
        subscriptions.start_new()
        after = follow()
        relay()
        Subscription.objects.filter(name__in=[OLD, NEW]).update(starts_after=0)

        retention.prune(before=timezone.now() + timedelta(days=1))

        assert not Delivery.objects.filter(policy__in=[OLD, NEW]).exists()
        marks = dict(Subscription.objects.filter(name__in=[OLD, NEW]).values_list("name", "starts_after"))
        last = StoredEvent.objects.get(event_id=after.event_id).position
        assert marks == {OLD: last, NEW: last}
        assert "all" in invariants()[0]
    assert before.event_id != after.event_id
