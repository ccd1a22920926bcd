"""The kernel's spans say how each dispatch and delivery ended."""

import pytest
from django.utils import timezone
from opentelemetry.trace import StatusCode

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus, relay
from messaging.delivery import claiming
from messaging.models import Delivery
from messaging.testing import subscribed
from tests.support.dead_letters import OutsideService
from tests.support.factories import AccountFactory
from tests.support.lag import IN_DATABASE, OUTSIDE
from tests.support.telemetry import recording

pytestmark = pytest.mark.django_db

POLICY = "tests.notify_followee"


def test_a_refused_command_has_its_span_say_refused_with_the_code(scenario):
    alice = AccountFactory()

    with recording() as recorded:
        scenario.when(FollowAccount(follower_id=alice.pk, followee_id=alice.pk))

    [span] = [span for span in recorded.finished() if span.name == "command FollowAccount"]
    assert (span.attributes["domain.outcome"], span.attributes["domain.refusal_code"]) == (
        "refused",
        "cannot_follow_self",
    )


def test_a_failing_policy_has_its_delivery_span_say_failed_then_dead(scenario, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 2
    alice, bob = AccountFactory(), AccountFactory()

    with recording() as recorded, subscribed(AccountFollowed, OutsideService(), name=POLICY):
        scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))  # first attempt, on commit
        failed = Delivery.objects.get(policy=POLICY)
        Delivery.objects.filter(pk=failed.pk).update(next_attempt_at=timezone.now())  # its retry time has come
        relay.deliver(failed.pk)

    spans = [span for span in recorded.finished() if span.name == f"deliver AccountFollowed to {POLICY}"]
    assert [span.attributes["domain.outcome"] for span in spans] == ["failed", "dead"]
    assert {span.status.status_code for span in spans} == {StatusCode.ERROR}
    assert "the notification service is down" in spans[-1].status.description


def refusing_follow_back(event: AccountFollowed):
    """A policy whose command is refused: the followee "follows" itself."""
    return [FollowAccount(follower_id=event.followee_id, followee_id=event.followee_id)]


@pytest.mark.django_db(transaction=True)
def test_a_policys_command_refused_right_after_the_commit_records_one_refused_span_and_no_failed_one():
    # given a policy whose command is refused, run right after the commit
    # without savepoints first, then again with them (the refusal rule)
    alice, bob = AccountFactory(), AccountFactory()

    with recording() as recorded, subscribed(AccountFollowed, refusing_follow_back, name=POLICY):
        bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    # then the abandoned run left no span: one refused command, one done delivery
    commands = [span for span in recorded.finished() if span.name == "command FollowAccount"]
    assert sorted(span.attributes["domain.outcome"] for span in commands) == ["done", "refused"]
    deliveries = [span for span in recorded.finished() if span.name == f"deliver AccountFollowed to {POLICY}"]
    assert [span.attributes["domain.outcome"] for span in deliveries] == ["done"]


@pytest.mark.django_db(transaction=True)
def test_a_policys_command_refused_in_a_relay_batch_records_one_refused_span_and_one_delivery(settings):
    # given the same policy, left to a relay whose batch runs without savepoints first
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    alice, bob = AccountFactory(), AccountFactory()

    with recording() as recorded, subscribed(AccountFollowed, refusing_follow_back, name=POLICY):
        bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
        relay.deliver_claimed(claiming.claim_due(50))

    # then one refused command span, and one delivery span, done
    commands = [span for span in recorded.finished() if span.name == "command FollowAccount"]
    assert sorted(span.attributes["domain.outcome"] for span in commands) == ["done", "refused"]
    deliveries = [span for span in recorded.finished() if span.name == f"deliver AccountFollowed to {POLICY}"]
    assert [span.attributes["domain.outcome"] for span in deliveries] == ["done"]


def test_the_lag_of_each_policy_and_lane_is_a_set_of_gauges(lagging):
    with recording() as recorded:
        data = recorded.metrics.get_metrics_data()

    points = {
        (metric.name, point.attributes["policy"], point.attributes["lane"]): point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name.startswith("domain.deliveries.lag.")
        for point in metric.data.data_points
    }
    assert points[("domain.deliveries.lag.waiting", IN_DATABASE, "database")] == 2
    assert points[("domain.deliveries.lag.failed", IN_DATABASE, "database")] == 1
    assert points[("domain.deliveries.lag.held", OUTSIDE, "outside")] == 1
    assert points[("domain.deliveries.lag.oldest_due_age", IN_DATABASE, "database")] >= 115
    assert points[("domain.deliveries.lag.done_rate", OUTSIDE, "outside")] == 0.2
