"""Rows by primary key with statements built once (``messaging.sql``):
the instances are the ORM's own, writes are the ORM's, and a lock is a lock."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, ApiToken
from catalog.models import Inventory
from messaging import sql
from messaging.models import StoredEvent
from orders.models import Order, OrderItem
from tests.support.factories import AccountFactory, InventoryFactory

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize("lock", [False, True])
def test_a_row_read_by_its_key_equals_the_orms_instance_field_for_field(lock):
    account = AccountFactory()
    inventory = InventoryFactory(on_hand=7, reserved=2, initial_stock_received=True)
    order = Order.objects.create(customer_id=account.pk, total_amount=Decimal("12.50"), currency="EUR")
    with transaction.atomic():
        for model, key in ((Account, account.pk), (Inventory, inventory.pk), (Order, order.pk)):
            read = sql.get(model, key, lock=lock)
            assert type(read) is model
            assert fields_of(read) == fields_of(model.objects.get(pk=key))
            assert read._state.adding is False and read._state.db == "default"


def test_a_row_read_with_its_related_row_equals_select_related():
    token, _ = ApiToken.objects.create(AccountFactory())
    read = sql.get(ApiToken, token.pk, related="user")
    expected = ApiToken.objects.select_related("user").get(pk=token.pk)
    assert fields_of(read) == fields_of(expected)
    with CaptureQueriesContext(connection) as queries:
        assert fields_of(read.user) == fields_of(expected.user)
    assert not queries.captured_queries  # cached, as select_related leaves it


def test_a_key_with_no_row_reads_as_none():
    assert sql.get(Inventory, InventoryFactory.build().book_id) is None


def test_saving_writes_only_the_named_columns_with_their_types_kept():
    inventory = InventoryFactory(on_hand=5, reserved=1)
    read = sql.get(Inventory, inventory.pk)
    read.on_hand, read.reserved, read.initial_stock_received = 9, 3, True
    Inventory.objects.filter(pk=inventory.pk).update(reserved=4)  # another writer's column, left as it is
    sql.save(read, "on_hand", "initial_stock_received")

    stored = Inventory.objects.get(pk=inventory.pk)
    assert (stored.on_hand, stored.reserved, stored.initial_stock_received) == (9, 4, True)
    order = Order.objects.create(customer_id=AccountFactory().pk, total_amount=Decimal("3.10"), currency="USD")
    order.status = Order.Status.CONFIRMED
    sql.save(order, "status")
    assert model_to_dict(Order.objects.get(pk=order.pk))["status"] == Order.Status.CONFIRMED


def test_saving_a_row_that_is_gone_is_an_error_as_for_the_orm():
    inventory = InventoryFactory()
    read = sql.get(Inventory, inventory.pk)
    Inventory.objects.filter(pk=inventory.pk).delete()
    with pytest.raises(DatabaseError, match="is gone"):
        sql.save(read, "on_hand")


@pytest.mark.django_db(transaction=True)
def test_a_locked_row_makes_another_locker_wait_until_the_transaction_ends():
    if not connection.features.has_select_for_update:
        pytest.skip("row locks are PostgreSQL's")
    inventory = InventoryFactory()
    locked, other_tried, other_got = threading.Event(), threading.Event(), []

    def other():
        locked.wait()
        try:
            with transaction.atomic():
                other_tried.set()
                other_got.append(sql.get(Inventory, inventory.pk, lock=True).on_hand)
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    with transaction.atomic():
        held = sql.get(Inventory, inventory.pk, lock=True)
        locked.set()
        other_tried.wait()
        thread.join(timeout=0.5)
        assert thread.is_alive() and other_got == []  # still waiting for the lock
        held.on_hand = 42
        sql.save(held, "on_hand")
    thread.join(timeout=10)
    assert other_got == [42]  # it read the row once the lock was released, as the first left it


def test_rows_read_by_several_keys_come_by_key_and_a_missing_one_is_left_out():
    first, second = AccountFactory(), AccountFactory()
    found = sql.get_many(Account, [second.pk, first.pk, InventoryFactory.build().book_id], lock=True)
    assert set(found) == {first.pk, second.pk}
    assert fields_of(found[first.pk]) == fields_of(Account.objects.get(pk=first.pk))


def test_rows_found_by_their_columns_come_in_the_order_asked_and_equal_the_orms():
    account = AccountFactory()
    order = Order.objects.create(customer_id=account.pk, total_amount=Decimal("5.00"), currency="USD")
    books = sorted((InventoryFactory().book for _ in range(3)), key=lambda book: str(book.pk), reverse=True)
    for book in books:
        OrderItem.objects.create(order=order, book_id=book.pk, title=book.title, quantity=1, unit_price_amount=1)
    OrderItem.objects.create(
        order=Order.objects.create(customer_id=account.pk, total_amount=1, currency="USD"),
        book_id=books[0].pk,
        title="another order's",
        quantity=1,
        unit_price_amount=1,
    )

    found = sql.find(OrderItem, order_id=order.pk, order_by="book_id", lock=True)
    expected = OrderItem.objects.filter(order_id=order.pk).order_by("book_id")
    assert [fields_of(item) for item in found] == [fields_of(item) for item in expected]
    assert sql.find(OrderItem, order_id=order.pk, title="no such title") == []


def test_copied_rows_equal_inserted_ones_field_for_field():
    # COPY on PostgreSQL, INSERT elsewhere: the same values, JSON and times kept
    when = timezone.now()

    def row(event_id):
        return {
            "event_id": event_id,
            "type": "accounts.AccountFollowed",
            "version": 1,
            "payload": {"follower_id": "a", "nested": [1, "two", None]},
            "is_rejection": False,
            "occurred_at": when,
            "command_id": event_id,
            "command_type": "accounts.FollowAccount",
            "correlation_id": event_id,
            "causation_id": None,
            "actor_id": None,
            "policy": "",
            "trace_id": "",
            "command_duration_ms": 1.5,
        }

    inserted, copied = uuid.uuid4(), uuid.uuid4()
    sql.insert(StoredEvent, [row(inserted)])
    sql.copy(StoredEvent, [row(copied)])

    def kept(event_id):
        written = fields_of(StoredEvent.objects.get(event_id=event_id))
        return {
            name: value
            for name, value in written.items()
            if name not in ("position", "event_id", "command_id", "correlation_id")
        }

    assert kept(copied) == kept(inserted)
