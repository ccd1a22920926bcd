"""The two flows, each written twice: through the bus (the pipeline) and as
the bare-ORM floor.

The floor makes the same row writes, one transaction per command as the
pipeline has (the policy's command included; the follower counts the
projector keeps are written in the same transaction as the follows), with
the reads the rules need
to make them correctly (locks, the block and limit checks, the stock check).
Where the pipeline queues a mail in its outbox (a ``MailQueued`` event of
ids, written and addressed when a relay sends it later), the floor inserts
the same ids as a row of a bench-only table (``FloorMail``) in a
transaction of its own, as the policy's command has: neither side reads
the customer, writes the text, composes a MIME message or sends it on the
command's path. It has no events, no deliveries, no savepoints, no
middleware, no value objects and no sealing.

Each function runs one flow numbered ``n`` and returns how many commands
it counted (the top-level ones: 4 per flow on both sides).
"""

import uuid
from decimal import Decimal
from email.utils import make_msgid

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.commands import BlockAccount, FollowAccount, RegisterAccount
from accounts.models import Account, AccountStats, Block, Follow
from accounts.values import Email, Password, Username
from catalog.commands import AddBook
from catalog.models import Book, Inventory, Reservation
from catalog.values import Money
from messaging import bus
from orders.commands import ConfirmOrder, PlaceOrder, ShipOrder
from orders.models import Order, OrderItem
from orders.values import OrderLine

COMMANDS_PER_FLOW = 4
PASSWORD = "a long bench secret"


def _ok(result):
    assert result.ok, result.rejection
    return result.events[0]


# --- workshop: register x2, follow, block (policy: sever the follows) ------


def _register(name: str) -> RegisterAccount:
    return RegisterAccount(email=Email(f"{name}@x.test"), username=Username(name), password=Password(PASSWORD))


def workshop_pipeline(tag: str, n: int) -> int:
    first = _ok(bus.dispatch(_register(f"a{n}{tag}")))
    second = _ok(bus.dispatch(_register(f"b{n}{tag}")))
    _ok(bus.dispatch(FollowAccount(follower_id=first.account_id, followee_id=second.account_id)))
    _ok(bus.dispatch(BlockAccount(blocker_id=second.account_id, blocked_id=first.account_id)))
    return COMMANDS_PER_FLOW


def _floor_register(email: str, username: str) -> uuid.UUID:
    with transaction.atomic():
        if Account.objects.filter(Q(email__iexact=email) | Q(username__iexact=username)).exists():
            raise AssertionError(f"{username} is taken")
        account = Account.objects.create(email=email, username=username, password=make_password(PASSWORD))
        AccountStats.objects.create(account=account)
    return account.pk


def _count(follower, followee, step: int) -> None:
    AccountStats.objects.filter(pk=follower).update(following_count=F("following_count") + step)
    AccountStats.objects.filter(pk=followee).update(followers_count=F("followers_count") + step)


def _lock_pair(first, second):
    return list(Account.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk"))


def workshop_floor(tag: str, n: int) -> int:
    first = _floor_register(f"fa{n}{tag}@x.test", f"fa{n}{tag}")
    second = _floor_register(f"fb{n}{tag}@x.test", f"fb{n}{tag}")
    with transaction.atomic():
        assert all(row.is_active for row in _lock_pair(first, second))
        blocked = Block.objects.filter(
            Q(blocker_id=first, blocked_id=second) | Q(blocker_id=second, blocked_id=first)
        ).exists()
        assert not blocked
        if not Follow.objects.filter(follower_id=first, followee_id=second).exists():
            assert Follow.objects.filter(follower_id=first).count() < 5000
            Follow.objects.create(follower_id=first, followee_id=second)
            _count(first, second, 1)
    with transaction.atomic():
        _lock_pair(first, second)
        if not Block.objects.filter(blocker_id=second, blocked_id=first).exists():
            Block.objects.create(blocker_id=second, blocked_id=first)
    with transaction.atomic():
        _lock_pair(first, second)
        for follower, followee in ((first, second), (second, first)):
            if Follow.objects.filter(follower_id=follower, followee_id=followee).delete()[0]:
                _count(follower, followee, -1)
    return COMMANDS_PER_FLOW


# --- bookshelf: add book (policy: stock it), place, confirm, ship (mails) ---


def bookshelf_customer(tag: str) -> uuid.UUID:
    return Account.objects.create(
        email=f"customer{tag}@x.test", username=f"customer{tag}", email_verified_at=timezone.now()
    ).pk


def bookshelf_pipeline(tag: str, n: int, customer_id: uuid.UUID) -> int:
    book = _ok(bus.dispatch(AddBook(title=f"Book {n}", author="Bench", price=Money(Decimal("12.50")))))
    order = _ok(bus.dispatch(PlaceOrder(items=(OrderLine(book_id=book.book_id, quantity=1),), actor_id=customer_id)))
    _ok(bus.dispatch(ConfirmOrder(order_id=order.order_id)))
    _ok(bus.dispatch(ShipOrder(order_id=order.order_id)))
    return COMMANDS_PER_FLOW


class FloorMail(models.Model):
    """The floor's outbox: a mail to write and send later, one row of ids, as
    the pipeline's ``MailQueued`` records one (a bench-only table, made by
    ``create_floor_outbox``; the product never has it)."""

    message_id = models.CharField(max_length=200)
    recipient_id = models.UUIDField()
    renderer = models.CharField(max_length=100)
    about = models.UUIDField(null=True)
    params = models.JSONField(default=dict)
    queued_at = models.DateTimeField()

    class Meta:
        app_label = "bench"
        db_table = "bench_floor_mail"

    def __str__(self):
        return f"{self.renderer} to {self.recipient_id}"


def create_floor_outbox() -> None:
    """Create the floor's outbox table in this database, once (again when an
    earlier bench left it in its old shape, with addresses and text)."""
    table = FloorMail._meta.db_table
    if table in connection.introspection.table_names():
        with connection.cursor() as cursor:
            columns = {column.name for column in connection.introspection.get_table_description(cursor, table)}
        if "recipient_id" in columns:
            return
        with connection.schema_editor() as editor:
            editor.delete_model(FloorMail)
    with connection.schema_editor() as editor:
        editor.create_model(FloorMail)


def _floor_mail(order_id: uuid.UUID, customer_id: uuid.UUID, what: str) -> None:
    """Queue the customer's mail in its own transaction (the pipeline's mail
    policy runs in its delivery's): one row of ids, nothing read."""
    with transaction.atomic():
        FloorMail.objects.create(
            message_id=make_msgid(domain=settings.MESSAGING_MAIL_MESSAGE_ID_DOMAIN),
            recipient_id=customer_id,
            renderer=f"orders.{what}",
            about=order_id,
            queued_at=timezone.now(),
        )


def bookshelf_floor(tag: str, n: int, customer_id: uuid.UUID) -> int:
    with transaction.atomic():
        book = Book.objects.create(title=f"Book {n}", author="Bench", price_amount=Decimal("12.50"))
        Inventory.objects.create(book=book)
    with transaction.atomic():
        inventory = Inventory.objects.select_for_update().get(pk=book.pk)
        if not inventory.initial_stock_received:
            inventory.on_hand += 10
            inventory.initial_stock_received = True
            inventory.save(update_fields=["on_hand", "initial_stock_received"])
    with transaction.atomic():
        assert Account.objects.filter(pk=customer_id, is_active=True, email_verified_at__isnull=False).exists()
        title, price = Book.objects.filter(pk=book.pk).values_list("title", "price_amount").get()
        (inventory,) = Inventory.objects.select_for_update(of=("self",)).select_related("book").filter(pk=book.pk)
        assert inventory.on_hand - inventory.reserved >= 1
        inventory.reserved += 1
        inventory.save(update_fields=["reserved"])
        Reservation.objects.bulk_create([Reservation(order_id=(order_id := uuid.uuid4()), book_id=book.pk, quantity=1)])
        order = Order.objects.create(id=order_id, customer_id=customer_id, total_amount=price, currency="USD")
        OrderItem.objects.bulk_create(
            [OrderItem(order=order, book_id=book.pk, title=title, quantity=1, unit_price_amount=price)]
        )
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        assert order.status == Order.Status.PENDING
        order.status = Order.Status.CONFIRMED
        order.save(update_fields=["status"])
    _floor_mail(order_id, customer_id, "confirmed")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        assert order.status == Order.Status.CONFIRMED
        order.status = Order.Status.SHIPPED
        order.save(update_fields=["status"])
        held = list(Reservation.objects.select_for_update().filter(order_id=order_id, status="held"))
        for inventory in Inventory.objects.select_for_update().filter(pk__in=[row.book_id for row in held]):
            inventory.on_hand -= 1
            inventory.reserved -= 1
            inventory.save(update_fields=["on_hand", "reserved"])
        Reservation.objects.filter(pk__in=[row.pk for row in held]).update(status="shipped")
    _floor_mail(order_id, customer_id, "shipped")
    return COMMANDS_PER_FLOW
