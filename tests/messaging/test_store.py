"""The event store: payloads round-trip through JSON, old versions are upcast."""

from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from django.utils import timezone

from accounts.commands import FollowAccount
from accounts.events import AccountFollowed
from messaging import bus, store
from messaging.messages import Event
from messaging.models import StoredEvent
from messaging.registry import RegistryError
from tests.support.factories import AccountFactory


@dataclass(frozen=True, kw_only=True)
class BookReviewed(Event):
    """v1 stored ``stars`` as a string of asterisks; v2 stores ``rating`` as a number."""

    version = 2
    book_id: UUID
    rating: int


def test_a_stored_event_reads_back_equal_to_what_was_appended(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    outcome = scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    (reloaded,) = store.load_many([outcome.events[0].event_id])
    assert reloaded == outcome.events[0]
    assert isinstance(reloaded, AccountFollowed) and isinstance(reloaded.follower_id, UUID)


def test_a_v1_payload_is_upcast_when_read(db, scratch_registry):
    scratch_registry.register_events(BookReviewed)
    scratch_registry.register_upcaster(
        BookReviewed, 1, lambda payload: {"book_id": payload["book_id"], "rating": len(payload["stars"])}
    )
    book_id = uuid4()
    row = StoredEvent.objects.create(
        event_id=uuid4(),
        type="BookReviewed",
        version=1,
        payload={"book_id": str(book_id), "stars": "****"},
        occurred_at=timezone.now(),
        command_id=uuid4(),
        command_type="ReviewBook",
        correlation_id=uuid4(),
    )

    event = store.load(row)

    assert isinstance(event, BookReviewed)
    assert (event.book_id, event.rating, event.version) == (book_id, 4, 2)


def test_an_inline_projector_runs_once_its_event_is_stored(db, scratch_registry):
    alice, bob = AccountFactory(), AccountFactory()
    seen = []

    def project(event):
        stored = StoredEvent.objects.filter(event_id=event.event_id).values_list("command_type", flat=True)
        seen.append((event.follower_id, list(stored)))

    scratch_registry.register_projection("seen follows", {AccountFollowed: project}, reset=seen.clear)

    bus.dispatch(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    assert seen == [(alice.pk, ["FollowAccount"])]  # its own transaction's row: see test_projections for a raise


def test_a_projection_is_named_once_and_projects_some_event(scratch_registry):
    with pytest.raises(RegistryError, match="a projection is already named 'follow_counts'"):
        scratch_registry.register_projection("follow_counts", {AccountFollowed: print}, reset=lambda: None)
    with pytest.raises(RegistryError, match="projects no event type"):
        scratch_registry.register_projection("nothing", {}, reset=lambda: None)
