"""A stored rejection keeps the ids its command was about, never a secret;
rejections stored before they had a subject still read back."""

from uuid import uuid4

import pytest
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount, RegisterAccount, SeverAllFollows
from accounts.events import FollowRejected
from accounts.values import Email, Password, Username
from catalog.commands import RestockBook
from messaging import store
from messaging.models import StoredEvent
from orders.commands import CancelOrder
from tests.support.factories import AccountFactory, BlockFactory, BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db


def _stored_payload(outcome) -> dict:
    return StoredEvent.objects.get(event_id=outcome.result.rejection.event_id).payload


def test_a_refused_follow_stores_the_follower_and_the_followee(scenario):
    # given bob blocks alice
    alice, bob = AccountFactory(), AccountFactory()
    BlockFactory(blocker=bob, blocked=alice)

    # when alice tries to follow bob
    outcome = scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk, actor_id=alice.pk))

    # then the stored rejection names both, and who asked
    outcome.then_rejected("blocked")
    assert _stored_payload(outcome)["subject"] == {
        "follower_id": str(alice.pk),
        "followee_id": str(bob.pk),
        "actor_id": str(alice.pk),
    }


def test_a_refused_block_stores_the_blocker_and_the_blocked(scenario):
    alice = AccountFactory()

    outcome = scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=alice.pk))

    outcome.then_rejected("cannot_block_self")
    assert _stored_payload(outcome)["subject"] == {"blocker_id": str(alice.pk), "blocked_id": str(alice.pk)}


def test_a_refused_registration_stores_neither_the_email_nor_the_password(scenario):
    AccountFactory(username="alice", email="alice@example.com")

    outcome = scenario.when(
        RegisterAccount(
            email=Email("alice@example.com"), username=Username("alice"), password=Password("a long secret 123")
        )
    )

    outcome.then_rejected("username_taken")
    payload = _stored_payload(outcome)
    assert payload["subject"] == {}
    assert "alice@example.com" not in str(payload) and "a long secret" not in str(payload)


def test_a_refused_order_change_stores_the_order_and_a_short_order_the_book(scenario):
    order_id = uuid4()
    cancel = scenario.when(CancelOrder(order_id=order_id))
    assert _stored_payload(cancel)["subject"] == {"order_id": str(order_id)}

    alice, dune = AccountFactory(), BookFactory()
    short = scenario.when(place(alice, (dune, 11)))
    short.then_rejected("insufficient_stock")
    assert _stored_payload(short)["subject"] == {"book_id": str(dune.pk), "actor_id": str(alice.pk)}


def test_a_refused_catalog_command_stores_the_book(scenario):
    book_id = uuid4()

    outcome = scenario.when(RestockBook(book_id=book_id, quantity=1))

    outcome.then_rejected("book_not_found")
    assert _stored_payload(outcome)["subject"] == {"book_id": str(book_id)}


def test_the_bus_own_refusal_stores_its_subject_too(scenario):
    alice = AccountFactory()

    outcome = scenario.when(SeverAllFollows(account_id=alice.pk, reason="by hand"))

    outcome.then_rejected("policy_only")
    assert _stored_payload(outcome)["subject"] == {"account_id": str(alice.pk)}


def test_a_v1_rejection_without_a_subject_reads_back_with_an_empty_one():
    # given a FollowRejected stored before rejections kept their subject
    row = StoredEvent.objects.create(
        event_id=uuid4(),
        type="FollowRejected",
        version=1,
        payload={"code": "blocked", "reason": "You cannot follow this account."},
        is_rejection=True,
        occurred_at=timezone.now(),
        command_id=uuid4(),
        command_type="FollowAccount",
        correlation_id=uuid4(),
    )

    # when it is read
    event = store.load(row)

    # then it is a current rejection whose subject is unknown
    assert isinstance(event, FollowRejected)
    assert (event.code, event.subject, event.version) == ("blocked", {}, 2)
