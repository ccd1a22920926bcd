"""The event catalogue (docs/events.yaml) and its compatibility check, run
on the real registry with a real event class changed as a next release
would change it."""

import shutil
from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from messaging import store
from messaging.messages import Event
from messaging.models import StoredEvent
from messaging.operations import event_catalogue


@dataclass(frozen=True, kw_only=True)
class RenamedOrderConfirmed(Event):
    """``OrderConfirmed`` as a careless next release writes it: ``order_id`` renamed ``id``."""

    id: UUID
    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class UpgradedOrderConfirmed(Event):
    """``OrderConfirmed`` renamed the right way: a version 2 and an upcaster from v1."""

    version = 2
    id: UUID
    customer_id: UUID


@dataclass(frozen=True, kw_only=True)
class GiftOrderConfirmed(Event):
    """``OrderConfirmed`` with a field added, with a default."""

    order_id: UUID
    customer_id: UUID
    gift: bool = False


def id_from_order_id(payload: dict) -> dict:
    return {"id": payload["order_id"], "customer_id": payload["customer_id"]}


@pytest.fixture
def catalogue_file(tmp_path, monkeypatch):
    """A copy of the committed catalogue, which the command reads and writes instead."""
    path = tmp_path / "events.yaml"
    shutil.copy(event_catalogue.committed_path(), path)
    monkeypatch.setattr(event_catalogue, "committed_path", lambda: path)
    return path


def release_b(registry, event_type, *upcasters):
    """The registry as release B has it: ``OrderConfirmed`` is ``event_type``."""
    registry.events["OrderConfirmed"] = event_type
    for from_version, upcaster in upcasters:
        registry.upcasters[("OrderConfirmed", from_version)] = upcaster


def test_the_committed_catalogue_is_the_codes(capsys):
    call_command("event_catalogue", "--check")
    assert "docs/events.yaml is up to date" in capsys.readouterr().out


def test_the_catalogue_declares_versions_upcasters_and_personal_data():
    described = event_catalogue.catalogue()["events"]

    registered = described["AccountRegistered"]
    assert (registered["version"], registered["upcasts_from"]) == (2, [1])
    assert registered["fields"]["email"] == {"type": "str", "personal_of": "account_id"}
    assert described["OrderPlaced"]["fields"]["items[].unit_price"] == {"type": "Money"}
    assert described["FollowBatchScheduled"]["fields"]["batch_starts"] == {"type": "list[int]", "optional": True}


def test_a_field_renamed_without_a_new_version_fails_the_check(scratch_registry, catalogue_file):
    release_b(scratch_registry, RenamedOrderConfirmed)

    with pytest.raises(CommandError) as refused:
        call_command("event_catalogue", "--check")

    message = str(refused.value)
    assert "OrderConfirmed: the field 'order_id' was removed or renamed at v1" in message
    assert "give the event version 2 and an upcaster from v1" in message


def test_writing_refuses_a_breaking_change_unless_allowed(scratch_registry, catalogue_file):
    release_b(scratch_registry, RenamedOrderConfirmed)
    before = catalogue_file.read_text()

    with pytest.raises(CommandError, match="removed or renamed"):
        call_command("event_catalogue", "--write")
    assert catalogue_file.read_text() == before

    call_command("event_catalogue", "--write", "--allow-breaking")
    assert "      id: {type: UUID}" in catalogue_file.read_text()


def test_a_new_version_without_its_upcaster_fails_the_check(scratch_registry, catalogue_file):
    release_b(scratch_registry, UpgradedOrderConfirmed)

    with pytest.raises(CommandError, match="OrderConfirmed: v2 needs an upcaster from v1"):
        call_command("event_catalogue", "--check")


@pytest.mark.parametrize(
    "event_type, upcasters",
    [(UpgradedOrderConfirmed, [(1, id_from_order_id)]), (GiftOrderConfirmed, [])],
    ids=["a new version with its upcaster", "a field added with a default"],
)
def test_a_compatible_change_only_asks_for_the_catalogue_to_be_written(
    scratch_registry, catalogue_file, capsys, event_type, upcasters
):
    release_b(scratch_registry, event_type, *upcasters)

    with pytest.raises(CommandError, match=r"changed without their catalogue: run .* event_catalogue --write"):
        call_command("event_catalogue", "--check")
    call_command("event_catalogue", "--write")
    call_command("event_catalogue", "--check")

    assert "up to date" in capsys.readouterr().out


def test_the_check_against_a_git_revision_catches_a_break_committed_since(scratch_registry, catalogue_file):
    release_b(scratch_registry, RenamedOrderConfirmed)
    call_command("event_catalogue", "--write", "--allow-breaking")  # the break, committed by hand

    call_command("event_catalogue", "--check")
    with pytest.raises(CommandError, match="against the catalogue at HEAD: OrderConfirmed: the field 'order_id'"):
        call_command("event_catalogue", "--check", "--against", "HEAD")


def test_an_unknown_revision_is_a_readable_error():
    with pytest.raises(CommandError, match="no catalogue at no-such-revision"):
        call_command("event_catalogue", "--against", "no-such-revision")


def test_the_release_before_reads_an_event_with_a_field_added_since(db):
    """Release B added ``gift`` (with a default) to ``OrderConfirmed``; release
    A's store reads B's events, leaving out the field its class lacks."""
    order_id, customer_id = uuid4(), uuid4()
    row = StoredEvent.objects.create(
        event_id=uuid4(),
        type="OrderConfirmed",
        version=1,
        payload={"order_id": str(order_id), "customer_id": str(customer_id), "gift": True},
        occurred_at=timezone.now(),
        command_id=uuid4(),
        command_type="ConfirmOrder",
        correlation_id=uuid4(),
    )

    event = store.load(row)

    assert (type(event).__name__, event.order_id, event.customer_id) == ("OrderConfirmed", order_id, customer_id)
