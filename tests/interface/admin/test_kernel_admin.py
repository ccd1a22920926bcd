"""The kernel's admin: the event log and deliveries, filterable, with
actions to retry now, skip or discard deliveries (a dry run first)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount
from accounts.events import AccountFollowed
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay, subscribed
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(AccountFactory(username="operator", is_staff=True, is_superuser=True))


def follow(scenario):
    alice, bob = AccountFactory(), AccountFactory()
    return scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))


def block(scenario):
    alice, bob = AccountFactory(), AccountFactory()
    return scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))


@pytest.mark.parametrize("model", ["storedevent", "delivery", "processedcommand"])
def test_every_kernel_model_is_listed_and_read_only(client, operator, model):
    assert client.get(reverse(f"admin:messaging_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:messaging_{model}_add")).status_code == 403


def test_events_filter_by_correlation_id_and_type_and_link_to_their_trace(client, operator, scenario):
    mine, other = follow(scenario), follow(scenario)
    correlation_id = mine.result.command.correlation_id

    by_correlation = client.get(reverse("admin:messaging_storedevent_changelist"), {"correlation_id": correlation_id})
    by_type = client.get(reverse("admin:messaging_storedevent_changelist"), {"type__exact": "AccountFollowed"})
    by_search = client.get(reverse("admin:messaging_storedevent_changelist"), {"q": str(correlation_id)})

    assert [row.correlation_id for row in by_correlation.context["cl"].result_list] == [correlation_id]
    assert by_type.context["cl"].result_count == 2
    assert by_search.context["cl"].result_count == 1
    assert reverse("console:trace", args=[correlation_id]) in by_correlation.text
    assert other.result.command.correlation_id != correlation_id


def test_retrying_dead_deliveries_queues_them_for_the_relay(client, operator, scenario, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 1
    broken = True

    def flaky(event):
        if broken:
            raise RuntimeError("mail server down")

    with subscribed(AccountFollowed, flaky, name="tests.flaky"):
        follow(scenario)
        dead = Delivery.objects.get(policy="tests.flaky")
        assert dead.status == Delivery.Status.DEAD
        listed = client.get(reverse("admin:messaging_delivery_changelist"), {"status__exact": "dead"})
        broken = False

        asked = client.post(
            reverse("admin:messaging_delivery_changelist"), {"action": "retry", "_selected_action": [dead.pk]}
        )
        response = client.post(
            reverse("admin:messaging_delivery_changelist"),
            {"action": "retry", "_selected_action": [dead.pk], "confirm": "yes"},
            follow=True,
        )

        dead.refresh_from_db()
        assert [row.pk for row in listed.context["cl"].result_list] == [dead.pk]
        assert "Dry run: <strong>1</strong> of the selected deliveries would be" in asked.text
        assert (dead.status, dead.attempts) == (Delivery.Status.PENDING, 0)  # nothing run in the request
        assert "Queued 1 failed or dead deliveries for the relay, due now." in response.text

        relay()
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.DONE
    assert list(StoredEvent.objects.values_list("type", flat=True)) == ["AccountFollowed", "DeliveriesRetried"]


def test_deliveries_filter_by_correlation_id(client, operator, scenario):
    mine, _ = block(scenario), block(scenario)
    correlation_id = mine.result.command.correlation_id

    response = client.get(reverse("admin:messaging_delivery_changelist"), {"event__correlation_id": correlation_id})

    listed = response.context["cl"].result_list
    assert listed and {delivery.event.correlation_id for delivery in listed} == {correlation_id}


def test_discarding_dead_deliveries_keeps_them_marked_discarded(client, operator, dead, scenario):
    block(scenario)
    done = Delivery.objects.exclude(pk=dead.row.pk).get()  # the block's own policy: left as it is

    response = client.post(
        reverse("admin:messaging_delivery_changelist"),
        {"action": "discard", "_selected_action": [dead.row.pk, done.pk], "confirm": "yes"},
        follow=True,
    )

    assert "Discarded 1 dead-lettered deliveries; they stay listed as discarded." in response.text
    assert Delivery.objects.get(pk=dead.row.pk).status == Delivery.Status.DISCARDED
    assert Delivery.objects.get(pk=done.pk).status == Delivery.Status.DONE
    assert dead.service.handled == []


def test_the_deliveries_list_shows_and_filters_outside_effects(client, operator, dead):
    response = client.get(reverse("admin:messaging_delivery_changelist"), {"outside__exact": "0"})

    assert "column-outside" in response.text
    assert response.context["cl"].result_count == Delivery.objects.count()


def test_skipping_asks_for_a_reason_after_a_dry_run_and_records_who_skipped(client, operator, troubled):
    changelist = reverse("admin:messaging_delivery_changelist")
    chosen = {"action": "skip", "_selected_action": [troubled.pending.pk, troubled.done.pk]}

    asked = client.post(changelist, chosen)
    unexplained = client.post(changelist, {**chosen, "confirm": "yes", "reason": ""})
    done = client.post(changelist, {**chosen, "confirm": "yes", "reason": "sent by hand"}, follow=True)

    assert "Dry run: <strong>1</strong> of the selected deliveries would be" in asked.text  # the done one: not waiting
    assert "This field is required." in unexplained.text
    assert "Skipped 1 deliveries; each row keeps who skipped it and why." in done.text
    row = troubled.fresh("pending")
    assert (row.status, row.last_error) == ("skipped", "skipped by operator: sent by hand")
    (recorded,) = troubled.recorded("DeliveriesSkipped")
    assert recorded.actor_id == get_user_model().objects.get(username="operator").pk
    assert recorded.payload["origin"] == ""  # the signed-in staff member, no shell
    assert troubled.ran == []


def test_select_all_retries_every_failed_and_dead_delivery_of_the_filtered_policy(client, operator, troubled):
    # the changelist filtered by policy, "select all" across its pages (one shown here), then the action
    changelist = reverse("admin:messaging_delivery_changelist") + f"?policy={troubled.dead.policy}"
    chosen = {"action": "retry", "_selected_action": [troubled.dead.pk], "select_across": "1"}

    asked = client.post(changelist, chosen)
    done = client.post(changelist, {**chosen, "confirm": "yes"}, follow=True)

    assert "Dry run: <strong>3</strong> of the selected deliveries would be" in asked.text
    assert "Queued 3 failed or dead deliveries for the relay, due now." in done.text
    assert [troubled.fresh(name).status for name in ("failed", "dead", "old_dead", "pending")] == [
        "failed", "pending", "pending", "pending",
    ]  # fmt: skip
    assert troubled.fresh("failed").next_attempt_at <= timezone.now()
