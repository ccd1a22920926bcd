"""The staff trace page: the causal tree of one correlation id."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.urls import reverse

from accounts.commands import BlockAccount, FollowAccount
from accounts.models import Account
from messaging import bus
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder, PlaceOrder
from orders.values import OrderLine
from tests.support.factories import AccountFactory, BookFactory
from tests.support.telemetry import recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(AccountFactory(username="operator", is_staff=True))
    return client


@pytest.fixture
def block_story(scenario):
    """Alice follows Bob, then Bob blocks Alice; the block's outcome."""
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
    return scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))


def test_the_trace_draws_command_events_policy_with_its_status_and_the_command_it_issued(
    staff_client, block_story, django_assert_max_num_queries
):
    correlation_id = block_story.result.command.correlation_id

    with django_assert_max_num_queries(7):  # session, user, events, deliveries, schedules, a query per namer
        response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    assert response.status_code == 200
    assert "console/trace.html" in [t.name for t in response.templates]
    [root] = response.context["roots"]
    [blocked] = root.events
    [policy] = blocked.policies
    [severed] = policy.commands
    assert (root.command_type, blocked.event.type) == ("BlockAccount", "AccountBlocked")
    assert (policy.delivery.policy, policy.delivery.status) == ("accounts.policies.remove_follows_on_block", "done")
    assert (severed.command_type, severed.events[0].event.type) == ("SeverFollows", "FollowRemoved")
    for text in ("BlockAccount", "AccountBlocked", "remove_follows_on_block", "SeverFollows", "FollowRemoved"):
        assert text in response.text


def test_a_correlation_id_with_no_events_is_404(staff_client):
    assert staff_client.get(reverse("console:trace", args=[uuid4()])).status_code == 404


def test_the_index_lists_the_latest_requests_with_links_to_their_traces(staff_client, block_story):
    correlation_id = block_story.result.command.correlation_id

    response = staff_client.get(reverse("console:trace_index"))

    assert response.status_code == 200
    assert "console/trace_index.html" in [t.name for t in response.templates]
    latest = response.context["recent"][0]
    assert (latest["command_type"], latest["events"]) == ("BlockAccount", 2)
    assert reverse("console:trace", args=[correlation_id]) in response.text


def test_the_index_looks_a_correlation_id_up(staff_client):
    correlation_id = uuid4()

    found = staff_client.get(reverse("console:trace_index"), {"correlation_id": str(correlation_id)})
    malformed = staff_client.get(reverse("console:trace_index"), {"correlation_id": "not-a-uuid"})

    assert found.status_code == 302 and found.url == reverse("console:trace", args=[correlation_id])
    assert malformed.status_code == 200 and "Enter a valid UUID." in malformed.text


@pytest.mark.parametrize("name, args", [("trace_index", []), ("trace", [uuid4()])])
def test_the_trace_pages_are_for_staff_only(client, name, args):
    url = reverse(f"console:{name}", args=args)

    anonymous = client.get(url)
    client.force_login(AccountFactory())
    signed_in = client.get(url)

    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("accounts:log_in"))
    assert signed_in.status_code == 403


def test_a_refused_command_is_drawn_as_refused_and_marked_in_the_index(staff_client, block_story, scenario):
    alice, bob = Account.objects.get(username="alice"), Account.objects.get(username="bob")
    refused = scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_rejected("blocked")

    trace = staff_client.get(reverse("console:trace", args=[refused.result.command.correlation_id]))
    index = staff_client.get(reverse("console:trace_index"))

    assert "FollowRejected" in trace.text and 'class="kind rejection"' in trace.text
    assert index.context["recent"][0]["refused"] == 1


def test_a_payload_with_nested_values_and_a_key_named_items_is_drawn(staff_client, scenario):
    customer, book = AccountFactory(), BookFactory(title="Dune")
    [placed] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=2),), actor_id=customer.pk))

    response = staff_client.get(reverse("console:trace", args=[placed.command.correlation_id]))

    assert response.status_code == 200
    assert "OrderPlaced" in response.text and "StockReserved" in response.text
    assert "&quot;title&quot;: &quot;Dune&quot;" in response.text


def test_a_mail_shows_in_the_trace_as_an_outside_effect_with_its_status_and_the_promise(staff_client, scenario):
    customer, book = AccountFactory(email="reader@example.com"), BookFactory()
    [placed] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=customer.pk))
    confirmed = scenario.when(ConfirmOrder(order_id=placed.events[0].order_id))

    response = staff_client.get(reverse("console:trace", args=[confirmed.result.command.correlation_id]))

    [root] = response.context["roots"]
    [mail_policy] = root.events[0].policies
    [queue] = mail_policy.commands
    [sending] = queue.events[0].policies
    assert (queue.command_type, queue.events[0].event.type) == ("QueueMail", "MailQueued")
    assert (sending.delivery.policy, sending.delivery.outside, sending.delivery.status) == (
        "messaging.outbox.send_queued_mail",
        True,
        "pending",
    )
    assert 'class="kind policy">outside effect' in response.text
    assert "at least once" in response.text and "Message-ID" in response.text


def test_the_index_marks_a_request_with_a_dead_delivery_and_filters_for_them(staff_client, block_story, dead):
    everything = staff_client.get(reverse("console:trace_index"))
    troubled = staff_client.get(reverse("console:trace_index"), {"deliveries": "troubled"})

    marks = {item["command_type"]: (item["dead"], item["failed"]) for item in everything.context["recent"][:2]}
    assert marks == {"FollowAccount": (1, 0), "BlockAccount": (0, 0)}
    assert "1 dead delivery" in everything.text
    [only] = troubled.context["recent"]
    assert only["correlation_id"] == dead.row.event.correlation_id
    assert "With failed or dead deliveries" in troubled.text


def test_an_admin_link_to_a_trace_says_so_in_its_accessible_name(client, block_story):
    client.force_login(AccountFactory(username="root", is_staff=True, is_superuser=True))
    correlation_id = block_story.result.command.correlation_id

    response = client.get(reverse("admin:messaging_storedevent_changelist"))

    assert f'aria-label="Trace of {correlation_id}"' in response.text
    assert f">trace {str(correlation_id)[:8]}…</a>" in response.text


def test_the_trace_names_the_people_and_books_beside_their_ids(staff_client, block_story, scenario):
    bob, book = Account.objects.get(username="bob"), BookFactory(title="Dune")
    [placed] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=bob.pk))

    block = staff_client.get(reverse("console:trace", args=[block_story.result.command.correlation_id]))
    order = staff_client.get(reverse("console:trace", args=[placed.command.correlation_id]))

    [blocked] = block.context["roots"][0].events
    assert [(name, named) for name, _, named in blocked.fields] == [("blocker_id", "bob"), ("blocked_id", "alice")]
    assert '<strong class="named">bob</strong>' in block.text
    reserved = {
        row.event.type: dict((name, named) for name, _, named in row.fields) for row in order.context["roots"][0].events
    }
    assert reserved["OrderPlaced"]["customer_id"] == "bob" and reserved["StockReserved"]["book_id"] == "Dune"


def test_the_trace_and_the_index_name_who_sent_the_top_command(staff_client, scenario):
    customer, book = AccountFactory(username="carol"), BookFactory(title="Dune")
    [placed] = scenario.given(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=customer.pk))

    trace = staff_client.get(reverse("console:trace", args=[placed.command.correlation_id]))
    index = staff_client.get(reverse("console:trace_index"))

    [root] = trace.context["roots"]
    assert (root.actor_id, root.actor) == (customer.pk, "carol")
    assert 'by <strong class="named">carol</strong>' in trace.text
    assert index.context["recent"][0]["actor"] == "carol"


@pytest.fixture
def traced_block(scenario):
    """The block story with OpenTelemetry on: its events record the trace id."""
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    with recording() as recorded:
        outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    [command_span] = [span for span in recorded.finished() if span.name == "command BlockAccount"]
    return outcome.result.command.correlation_id, f"{command_span.context.trace_id:032x}"


def test_the_trace_links_its_opentelemetry_trace_where_otel_trace_url_says(staff_client, traced_block, settings):
    correlation_id, trace_id = traced_block
    settings.OTEL_TRACE_URL = "https://jaeger.example/trace/{trace_id}"

    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    assert f'<a href="https://jaeger.example/trace/{trace_id}" class="otel-trace">{trace_id}</a>' in response.text


def test_without_otel_trace_url_the_trace_shows_the_bare_trace_id(staff_client, traced_block, settings):
    correlation_id, trace_id = traced_block
    settings.OTEL_TRACE_URL = ""

    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    assert f'<code class="otel-trace">{trace_id}</code>' in response.text


def test_the_trace_shows_how_long_the_top_command_and_a_policy_delivery_took(staff_client, block_story):
    correlation_id = block_story.result.command.correlation_id

    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    [root] = response.context["roots"]
    [policy] = root.events[0].policies
    [severed] = policy.commands
    assert root.duration_ms > 0 and policy.delivery.duration_ms > 0 and severed.duration_ms > 0
    assert f"took {root.took}" in response.text and f"took {policy.took}" in response.text
    assert root.took.endswith(" ms") or root.took.endswith(" s")


def test_the_trace_draws_each_command_and_delivery_as_a_bar_at_its_start_for_its_duration(staff_client, block_story):
    # given the block took 40 ms up to its event at T; its policy's delivery
    # ran from T+10 to T+30 ms, and the command it issued took 5 ms up to T+25
    correlation_id = block_story.result.command.correlation_id
    events = StoredEvent.objects.filter(correlation_id=correlation_id)
    start = events.get(type="AccountBlocked").occurred_at
    events.filter(command_type="BlockAccount").update(occurred_at=start, command_duration_ms=40.0)
    events.filter(command_type="SeverFollows").update(
        occurred_at=start + timedelta(milliseconds=25), command_duration_ms=5.0
    )
    Delivery.objects.filter(event__correlation_id=correlation_id).update(
        delivered_at=start + timedelta(milliseconds=30), duration_ms=20.0
    )

    # when
    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    # then the bars sit on one axis from the first start (T-40) to the last end (T+30): 70 ms
    timeline = response.context["timeline"]
    assert timeline.span_ms == pytest.approx(70.0)
    assert [(bar.label, bar.start_ms, bar.duration_ms) for bar in timeline.bars] == [
        ("BlockAccount", pytest.approx(0.0), 40.0),
        ("accounts.policies.remove_follows_on_block", pytest.approx(50.0), 20.0),
        ("SeverFollows", pytest.approx(60.0), 5.0),
    ]
    assert response.text.count('<rect class="bar ') == 3
    assert '<rect class="bar policy" x="71.43%" width="28.57%"' in response.text
    assert "<title>SeverFollows: from +60.0 ms, took 5.00 ms</title>" in response.text


def test_a_trace_with_no_durations_draws_no_timeline(staff_client, block_story):
    correlation_id = block_story.result.command.correlation_id
    StoredEvent.objects.filter(correlation_id=correlation_id).update(command_duration_ms=None)
    Delivery.objects.filter(event__correlation_id=correlation_id).update(duration_ms=None)

    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    assert response.status_code == 200 and response.context["timeline"] is None
    assert 'class="timeline"' not in response.text


def test_the_event_and_delivery_api_give_the_durations(staff_client, block_story):
    correlation_id = str(block_story.result.command.correlation_id)

    events = staff_client.get("/api/v1/events/", {"correlation_id": correlation_id}).json()["results"]
    deliveries = staff_client.get("/api/v1/deliveries/", {"correlation_id": correlation_id}).json()["results"]

    assert all(event["command_duration_ms"] > 0 for event in events)
    assert deliveries and all(delivery["duration_ms"] > 0 for delivery in deliveries)


def test_deliveries_a_relay_worker_ran_have_their_duration_too(staff_client, scenario, settings):
    settings.MESSAGING_DELIVER_ON_COMMIT = False  # every delivery is left to the relay
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
    blocked = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    relay()

    response = staff_client.get(reverse("console:trace", args=[blocked.result.command.correlation_id]))

    [root] = response.context["roots"]
    [policy] = root.events[0].policies
    assert policy.delivery.status == "done" and policy.delivery.duration_ms > 0
    assert f"took {policy.took}" in response.text


def test_the_timeline_shows_the_requests_own_work_apart_from_what_workers_did_later(
    client, staff_client, django_capture_on_commit_callbacks
):
    # given: an order confirmed at the staff console, whose mail policy queued
    # the mail on the request's commit, and a relay worker that sent it later
    alice, book = AccountFactory(username="alice"), BookFactory()
    (placed, *_) = bus.dispatch(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=alice.pk)).events
    relay()
    with django_capture_on_commit_callbacks(execute=True):
        asked = staff_client.post(
            reverse("orders:change", args=[placed.order_id, "confirm"]), {"idempotency_key": str(uuid4())}
        )
    relay()
    correlation_id = StoredEvent.objects.get(type="OrderConfirmed").correlation_id

    # when
    response = staff_client.get(reverse("console:trace", args=[correlation_id]))

    # then: the request's command and its on-commit delivery in one lane, the mail in the other
    assert asked.status_code == 302
    ran_on_commit = dict(
        Delivery.objects.filter(event__correlation_id=correlation_id).values_list("policy", "ran_on_commit")
    )
    assert ran_on_commit == {"orders.policies.mail_confirmation": True, "messaging.outbox.send_queued_mail": False}
    timeline = response.context["timeline"]
    assert [bar.label for bar in timeline.request_bars] == [
        "ConfirmOrder",
        "orders.policies.mail_confirmation",
        "QueueMail",
    ]
    assert [bar.label for bar in timeline.worker_bars] == ["messaging.outbox.send_queued_mail"]
    assert timeline.request_end_ms == pytest.approx(max(b.start_ms + b.duration_ms for b in timeline.request_bars))
    assert 'data-lane="request"' in response.text and 'data-lane="workers"' in response.text
    assert response.text.count('<line class="request-end"') == 2
