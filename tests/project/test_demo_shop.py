"""``demo_shop``: the lively demo that ``scripts/run`` seeds, through the bus, once, with one hash."""

import io
import re
from unittest import mock

import pytest
from django.contrib.auth import hashers
from django.core.management import call_command

from accounts.models import Account, Block, Follow
from catalog.models import Book, Inventory
from messaging.models import Delivery, StoredEvent
from orders.models import Order
from tests.project.test_check_invariants import check

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, so the policies run as in production


def demo_shop() -> str:
    out = io.StringIO()
    call_command("demo_shop", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_seeds_people_who_follow_each_other_with_one_block(embedded_database):
    demo_shop()

    assert Account.objects.filter(is_staff=False).count() == 12
    assert Block.objects.filter(blocker__username="ken", blocked__username="dennis").count() == 1
    assert Follow.objects.count() >= 30
    assert not Follow.objects.filter(follower__username="ken", followee__username="dennis").exists()
    assert check().startswith("all ")


def test_it_seeds_real_books_with_stock_and_orders_in_every_state(embedded_database):
    demo_shop()

    assert Inventory.objects.filter(book__title="Middlemarch").get().on_hand > 0
    assert Inventory.objects.filter(on_hand__gt=0).count() == 13
    states = {state: Order.objects.filter(status=state).count() for state in Order.Status.values}
    assert states == {"PENDING": 3, "CONFIRMED": 3, "SHIPPED": 3, "CANCELLED": 3}
    assert not Delivery.objects.filter(status="dead").exists()


def test_every_demo_book_has_its_real_isbn_and_a_description(embedded_database):
    # when
    demo_shop()

    # then
    assert not Book.objects.filter(isbn__isnull=True).exists()
    assert not Book.objects.filter(description="").exists()
    assert Book.objects.get(title="Middlemarch").isbn == "9780141439549"
    assert Book.objects.get(isbn="9780743273565").title == "The Great Gatsby"


def test_it_prints_a_customer_login_and_a_staff_login_that_sign_in(embedded_database):
    output = demo_shop()

    assert "ada / demo-password" in output and "admin / admin-demo-password" in output
    assert Account.objects.get(username="ada").check_password("demo-password")
    assert Account.objects.get(username="admin").is_staff


def test_a_second_run_finds_the_shop_and_adds_nothing(embedded_database):
    demo_shop()
    events = StoredEvent.objects.count()

    output = demo_shop()

    assert "already there" in output
    assert StoredEvent.objects.count() == events


def test_the_demo_accounts_share_one_password_hash(embedded_database):
    with mock.patch("demo.management.commands.demo_shop.make_password", wraps=hashers.make_password) as hashing:
        demo_shop()

    assert hashing.call_count == 1
    assert Account.objects.filter(is_staff=False).values("password").distinct().count() == 1


def test_off_the_embedded_database_it_seeds_nothing():
    output = demo_shop()

    assert "No demo shop" in output
    assert not Account.objects.exists() and not StoredEvent.objects.exists()


def test_its_progress_counts_every_command_it_sends(embedded_database):
    # when
    err = io.StringIO()
    call_command("demo_shop", stdout=io.StringIO(), stderr=err)

    # then: the bar ends full, neither short of its total nor past it
    assert re.search(r"^demo shop: (\d+)/\1 commands in ", err.getvalue(), re.MULTILINE), err.getvalue()
