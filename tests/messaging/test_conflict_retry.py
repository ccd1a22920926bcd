"""The bus runs a command again when the database aborted it for a conflict."""

from dataclasses import dataclass
from uuid import UUID

import pytest
from django.db import OperationalError

from accounts.events import AccountFollowed
from accounts.models import Follow
from messaging import bus
from messaging.messages import Command
from tests.support.factories import AccountFactory


@dataclass(frozen=True, kw_only=True)
class FollowAfterConflicts(Command):
    follower_id: UUID
    followee_id: UUID


def conflicting_handler(failures: int, sqlstate: str):
    attempts = []

    def handle(command):
        attempts.append(1)
        Follow.objects.create(follower_id=command.follower_id, followee_id=command.followee_id)
        if len(attempts) <= failures:
            error = OperationalError("deadlock detected")
            error.__cause__ = type("DatabaseConflict", (Exception,), {"sqlstate": sqlstate})()
            raise error
        return [AccountFollowed(follower_id=command.follower_id, followee_id=command.followee_id)]

    return handle, attempts


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"], ids=["deadlock", "serialization failure"])
def test_a_command_aborted_by_a_conflict_is_run_again_and_takes_effect_once(scratch_registry, sqlstate):
    handler, attempts = conflicting_handler(failures=2, sqlstate=sqlstate)
    scratch_registry.register_handler(FollowAfterConflicts, handler)
    alice, bob = AccountFactory(), AccountFactory()

    result = bus.dispatch(FollowAfterConflicts(follower_id=alice.pk, followee_id=bob.pk))

    assert result.ok and len(attempts) == 3
    assert Follow.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_conflict_that_persists_is_raised_after_a_bounded_number_of_attempts(scratch_registry):
    handler, attempts = conflicting_handler(failures=100, sqlstate="40P01")
    scratch_registry.register_handler(FollowAfterConflicts, handler)
    alice, bob = AccountFactory(), AccountFactory()

    with pytest.raises(OperationalError):
        bus.dispatch(FollowAfterConflicts(follower_id=alice.pk, followee_id=bob.pk))

    assert len(attempts) == 4
    assert not Follow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried(scratch_registry):
    handler, attempts = conflicting_handler(failures=1, sqlstate="42P01")
    scratch_registry.register_handler(FollowAfterConflicts, handler)
    alice, bob = AccountFactory(), AccountFactory()

    with pytest.raises(OperationalError):
        bus.dispatch(FollowAfterConflicts(follower_id=alice.pk, followee_id=bob.pk))

    assert len(attempts) == 1
