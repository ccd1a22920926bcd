"""The bus: routing, metadata, idempotency, transactions and refusals."""

from dataclasses import dataclass
from uuid import UUID

import pytest

from accounts.commands import BlockAccount, FollowAccount, RegisterAccount
from accounts.events import AccountBlocked, AccountFollowed, FollowRejected
from accounts.models import Account, Follow
from accounts.values import Email, Password, Username
from messaging import bus
from messaging.messages import Command, IdempotencyKeyReused, Refused
from messaging.models import Delivery, ProcessedCommand, StoredEvent
from messaging.registry import RegistryError, UnknownCommand
from messaging.testing import subscribed
from tests.support.factories import AccountFactory


@dataclass(frozen=True, kw_only=True)
class FollowThenRefuse(Command):
    """A test command whose handler writes and then refuses."""

    follower_id: UUID
    followee_id: UUID


def follow_then_refuse(command):
    Follow.objects.create(follower_id=command.follower_id, followee_id=command.followee_id)
    raise Refused(FollowRejected(code="changed_my_mind", reason="Refused after writing."))


def test_a_second_handler_for_one_command_type_is_a_clear_error(scratch_registry):
    with pytest.raises(RegistryError, match="FollowAccount already has a handler"):
        scratch_registry.register_handler(FollowAccount, lambda command: [])


def test_dispatching_a_command_nobody_handles_is_a_clear_error(db):
    with pytest.raises(UnknownCommand, match="unknown command .FollowThenRefuse.; known commands: .*BlockAccount"):
        bus.dispatch(FollowThenRefuse(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))


def test_a_command_from_an_interface_is_its_own_correlation_and_has_no_cause(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    command = FollowAccount(follower_id=alice.pk, followee_id=bob.pk)

    outcome = scenario.when(command)

    row = StoredEvent.objects.get()
    assert (row.command_id, row.correlation_id, row.causation_id) == (command.command_id, command.command_id, None)
    assert (row.command_type, row.type, row.version) == ("FollowAccount", "AccountFollowed", 1)
    assert outcome.events[0].correlation_id == command.command_id


def test_a_given_correlation_id_is_kept(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    correlation = UUID("00000000-0000-4000-8000-000000000001")

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk, correlation_id=correlation))

    assert StoredEvent.objects.get().correlation_id == correlation


def test_commands_issued_by_a_policy_inherit_the_correlation_and_name_the_event_as_cause(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    blocked, removed = outcome.cascade
    assert removed.correlation_id == blocked.correlation_id == outcome.result.command.command_id
    assert removed.causation_id == blocked.event_id
    assert StoredEvent.objects.get(event_id=removed.event_id).policy == "accounts.policies.remove_follows_on_block"


def test_a_refusal_rolls_back_what_the_handler_wrote_and_records_the_rejection(db, scenario, scratch_registry):
    scratch_registry.register_handler(FollowThenRefuse, follow_then_refuse)
    alice, bob = AccountFactory(), AccountFactory()

    scenario.when(FollowThenRefuse(follower_id=alice.pk, followee_id=bob.pk)).then_rejected("changed_my_mind")

    assert not Follow.objects.exists()
    row = StoredEvent.objects.get()
    assert (row.type, row.is_rejection, row.payload["code"]) == ("FollowRejected", True, "changed_my_mind")


@pytest.mark.django_db(transaction=True)
def test_a_committed_refusal_runs_its_handler_once_and_keeps_its_key_with_the_rejection(scratch_registry):
    """At the top level a refusal rolls the command's whole transaction back
    and records the rejection in a second one: the handler is not run
    again, and the idempotency key is stored with the rejection."""
    calls = []

    def count_then_refuse(command):
        calls.append(command.command_id)
        return follow_then_refuse(command)

    scratch_registry.register_handler(FollowThenRefuse, count_then_refuse)
    alice, bob = AccountFactory(), AccountFactory()
    command = FollowThenRefuse(follower_id=alice.pk, followee_id=bob.pk, idempotency_key="k", actor_id=alice.pk)

    first = bus.dispatch(command)
    again = bus.dispatch(command)

    assert first.rejection.code == "changed_my_mind" and len(calls) == 1
    assert again.replayed and [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert not Follow.objects.exists()
    assert ProcessedCommand.objects.get().event_ids == [str(first.events[0].event_id)]
    assert StoredEvent.objects.get().is_rejection


def test_the_same_idempotency_key_replays_the_first_result_without_a_second_effect(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    first = scenario.when(
        FollowAccount(follower_id=alice.pk, followee_id=bob.pk, idempotency_key="k1", actor_id=alice.pk)
    )
    Follow.objects.all().delete()  # were the command to run again, the follow would come back

    again = scenario.when(
        FollowAccount(follower_id=alice.pk, followee_id=bob.pk, idempotency_key="k1", actor_id=alice.pk)
    )

    assert again.result.replayed
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert not Follow.objects.exists()
    assert StoredEvent.objects.count() == 1


def test_an_idempotency_key_reused_for_another_command_is_refused(db, scenario):
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk, idempotency_key="k1", actor_id=alice.pk))

    outcome = scenario.when(
        FollowAccount(follower_id=alice.pk, followee_id=carol.pk, idempotency_key="k1", actor_id=alice.pk)
    )

    outcome.then_rejected("idempotency_key_reused").then_events(IdempotencyKeyReused)
    assert not Follow.objects.filter(followee=carol).exists()


def test_idempotency_keys_belong_to_their_actor(db, scenario):
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=carol.pk, idempotency_key="k1", actor_id=alice.pk))

    outcome = scenario.when(
        FollowAccount(follower_id=bob.pk, followee_id=carol.pk, idempotency_key="k1", actor_id=bob.pk)
    )

    outcome.then_events(AccountFollowed)
    assert ProcessedCommand.objects.count() == 2


def test_an_idempotency_record_holds_no_password(db, scenario):
    scenario.when(
        RegisterAccount(
            email=Email("a@example.com"),
            username=Username("alice"),
            password=Password("hunter2-x"),
            idempotency_key="s",
        )
    )

    record = ProcessedCommand.objects.get()
    assert "hunter2" not in f"{record.fingerprint} {record.event_ids} {record.command_type}"


@pytest.mark.django_db(transaction=True)
def test_a_command_whose_transaction_rolls_back_runs_no_policy_and_stores_nothing(monkeypatch):
    """A fault after the handler and the store append (e.g. the commit
    failing) rolls everything back; the on-commit delivery never runs."""
    alice, bob = AccountFactory(), AccountFactory()
    Follow.objects.create(follower=alice, followee=bob)
    ran = []

    def fail_after_append(command, call_next):
        call_next(command)
        raise RuntimeError("the commit failed")

    monkeypatch.setattr(bus, "MIDDLEWARE", [*bus.MIDDLEWARE, fail_after_append])
    with subscribed(AccountBlocked, lambda event: ran.append(event), name="tests.spy"):
        with pytest.raises(RuntimeError, match="the commit failed"):
            bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    assert ran == []
    assert not StoredEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert Follow.objects.filter(follower=alice, followee=bob).exists()
    assert not Account.objects.get(pk=bob.pk).blocking_set.exists()


@pytest.mark.django_db(transaction=True)
def test_after_a_real_commit_the_policies_have_run_before_dispatch_returns():
    alice, bob = AccountFactory(), AccountFactory()
    Follow.objects.create(follower=alice, followee=bob)

    bus.dispatch(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    assert not Follow.objects.exists()
    assert Delivery.objects.get(policy="accounts.policies.remove_follows_on_block").status == Delivery.Status.DONE
