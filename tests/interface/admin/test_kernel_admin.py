"""The kernel's admin: the event log and deliveries, filterable, with ways
to retry or discard what was dead-lettered."""

import pytest
from django.urls import reverse

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

        response = client.post(
            reverse("admin:messaging_delivery_changelist"),
            {"action": "retry", "_selected_action": [dead.pk]},
            follow=True,
        )

        dead.refresh_from_db()
        assert [row.pk for row in listed.context["cl"].result_list] == [dead.pk]
        assert (dead.status, dead.attempts) == (Delivery.Status.PENDING, 0)  # nothing run in the request
        assert "Queued 1 dead-lettered deliveries for the relay" in response.text

        relay()
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.DONE
    assert StoredEvent.objects.count() == 1


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
        {"action": "discard", "_selected_action": [dead.row.pk, done.pk]},
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
