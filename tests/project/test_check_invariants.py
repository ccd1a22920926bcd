"""check_invariants: silent and exit 0 when every rule holds, each violation listed otherwise."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.commands import BlockAccount, FollowAccount
from catalog.models import Inventory
from orders.commands import CancelOrder
from orders.models import HeldCopies
from tests.support.factories import AccountFactory, BlockFactory, BookFactory, FollowFactory
from tests.support.stock import place


def check() -> str:
    """What check_invariants printed; raises its CommandError (exit 1) on a violation."""
    out = io.StringIO()
    try:
        call_command("check_invariants", stdout=out)
    except CommandError as error:
        error.printed = out.getvalue()
        raise
    return out.getvalue()


def test_after_the_stories_every_rule_holds(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    book = BookFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
    scenario.given(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
    (placed,) = scenario.given(place(alice, (book, 2)))
    scenario.given(place(bob, (book, 3)))
    scenario.given(CancelOrder(order_id=placed.events[0].order_id))

    assert check().startswith("all ")


def test_a_follow_across_a_block_is_reported(db):
    alice, bob = AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)
    BlockFactory(blocker=bob, blocked=alice)

    with pytest.raises(CommandError, match="1 violation") as violation:
        check()
    assert f"{alice.pk} follows {bob.pk} although there is a block" in violation.value.printed


def test_a_reserved_figure_no_order_explains_is_reported(db):
    book = BookFactory()
    Inventory.objects.filter(book=book).update(reserved=4)

    with pytest.raises(CommandError, match="1 violation") as violation:
        check()
    assert f"book {book.pk}: reserved 4, but reservations hold 0" in violation.value.printed


def test_a_count_of_held_copies_that_pending_orders_do_not_explain_is_reported(db, scenario):
    alice = AccountFactory()
    scenario.given(place(alice, (BookFactory(), 2)))
    HeldCopies.objects.filter(customer_id=alice.pk).update(copies=5)

    with pytest.raises(CommandError, match="1 violation") as violation:
        check()
    assert f"customer {alice.pk}: pending orders hold 2 copies, the cap counts 5" in violation.value.printed


def test_a_dead_letter_is_reported_until_an_operator_discards_it(dead):
    with pytest.raises(CommandError, match="1 violation") as violation:
        check()
    assert (
        f"delivery {dead.row.pk} (AccountFollowed -> tests.notify_followee) is dead-lettered: "
        "ConnectionError: the notification service is down; retry or discard it with manage.py deliveries"
    ) in violation.value.printed

    call_command("deliveries", "discard", str(dead.row.pk), stdout=io.StringIO())

    assert check().startswith("all ")


def test_accounts_over_a_lowered_follow_limit_are_a_warning_that_does_not_fail(db, settings):
    # given: alice followed three accounts, then the limit was lowered to two
    alice = AccountFactory(username="alice")
    for _ in range(3):
        FollowFactory(follower=alice, followee=AccountFactory())
    settings.FOLLOW_LIMIT = 2

    # when
    out, err = io.StringIO(), io.StringIO()
    call_command("check_invariants", stdout=out, stderr=err)

    # then
    assert out.getvalue().startswith("all ")
    assert f"@alice ({alice.pk}) follows 3 accounts, over FOLLOW_LIMIT=2" in err.getvalue()
