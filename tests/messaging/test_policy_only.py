"""Commands only a policy may issue are refused from every interface, by the bus."""

import io
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command

from accounts.commands import SeverAllFollows, SeverFollows
from accounts.models import Follow
from catalog.commands import ReleaseStock, StockNewBook
from interfaces.errors import refused
from messaging.messages import CommandRejected
from messaging.models import StoredEvent
from messaging.registry import registry
from tests.support.factories import AccountFactory, BookFactory, FollowFactory
from tests.support.stock import figures


def test_the_policies_commands_are_declared_policy_only(db):
    policy_only = {command.__name__ for command in registry.handlers if command.policy_only}

    assert {"SeverFollows", "SeverAllFollows", "StockNewBook", "ReleaseStock"} <= policy_only


def test_severing_every_follow_of_an_active_account_from_the_shell_is_refused_and_changes_nothing(db):
    # given
    carol = AccountFactory(username="carol")
    FollowFactory(follower=carol)
    FollowFactory(followee=carol)

    # when
    with pytest.raises(CommandError, match="refused: policy_only: SeverAllFollows is issued only by a policy") as error:
        call_command(
            "send_command",
            "SeverAllFollows",
            "account_id=@carol",
            "reason=whatever",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

    # then
    assert error.value.returncode == 1
    assert Follow.objects.count() == 2
    rejection = StoredEvent.objects.get()
    assert (rejection.type, rejection.command_type, rejection.payload["code"]) == (
        "CommandRejected",
        "SeverAllFollows",
        "policy_only",
    )


@pytest.mark.parametrize(
    "command",
    [
        lambda: SeverFollows(account_id=AccountFactory().pk, other_id=AccountFactory().pk, reason="blocked"),
        lambda: SeverAllFollows(account_id=AccountFactory().pk, reason="account_deactivated"),
        lambda: StockNewBook(book_id=BookFactory(inventory__initial_stock_received=False).pk, quantity=5),
        lambda: ReleaseStock(order_id=uuid4()),
    ],
    ids=["SeverFollows", "SeverAllFollows", "StockNewBook", "ReleaseStock"],
)
def test_each_policy_only_command_sent_by_hand_is_refused(db, scenario, command):
    scenario.when(command()).then_rejected("policy_only")


def test_the_same_command_from_its_policy_goes_through(db, scenario):
    # given
    alice, bob = AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)

    # when
    outcome = scenario.when(
        SeverFollows(account_id=bob.pk, other_id=alice.pk, reason="blocked"), as_policy="remove_follows_on_block"
    )

    # then
    assert outcome.result.ok
    assert not Follow.objects.exists()


def test_a_book_sent_its_initial_stock_as_a_policy_gets_it(db, scenario):
    book = BookFactory(inventory__on_hand=0, inventory__initial_stock_received=False)

    scenario.when(StockNewBook(book_id=book.pk, quantity=5), as_policy="stock_new_book")

    assert figures(book) == (5, 0)


def test_over_http_the_refusal_answers_403_in_the_error_shape(db):
    response = refused(CommandRejected.policy_only(SeverAllFollows(account_id=uuid4(), reason="x")))

    assert response.status_code == 403
    assert response.data == {
        "code": "policy_only",
        "detail": "SeverAllFollows is issued only by a policy, in reaction to an event; it cannot be sent.",
    }
