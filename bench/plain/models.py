"""The product's tables, as a plain Django app maps them: unmanaged models
(the product's migrations own the tables), only the columns it uses."""

# ruff: noqa: DJ008 (rows nobody prints)

import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.utils import timezone


class Account(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    email = models.EmailField()
    username = models.CharField(max_length=30, unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "username"

    class Meta:
        managed = False
        db_table = "accounts_account"


class Token(models.Model):
    """django-rest-knox's row: the token's SHA-512 is the key."""

    digest = models.CharField(max_length=128, primary_key=True)
    user = models.ForeignKey(Account, on_delete=models.CASCADE)
    expiry = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "accounts_apitoken"


class AccountStats(models.Model):
    account = models.OneToOneField(Account, primary_key=True, on_delete=models.CASCADE, related_name="stats")
    followers_count = models.IntegerField(default=0)
    following_count = models.IntegerField(default=0)

    class Meta:
        managed = False
        db_table = "accounts_accountstats"


class Follow(models.Model):
    follower = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    followee = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "accounts_follow"


class Block(models.Model):
    blocker = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "accounts_block"


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    title = models.CharField(max_length=200)
    author = models.CharField(max_length=150)
    isbn = models.CharField(max_length=13, null=True)  # noqa: DJ001 (the product's column)
    price_amount = models.DecimalField(max_digits=11, decimal_places=2)
    price_currency = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "catalog_book"


class Inventory(models.Model):
    book = models.OneToOneField(Book, primary_key=True, on_delete=models.CASCADE, related_name="inventory")
    on_hand = models.IntegerField()
    reserved = models.IntegerField()

    class Meta:
        managed = False
        db_table = "catalog_inventory"


class Reservation(models.Model):
    order_id = models.UUIDField()
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    quantity = models.IntegerField()
    status = models.CharField(max_length=10, default="HELD")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "catalog_reservation"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    customer_id = models.UUIDField()
    status = models.CharField(max_length=10, default="PENDING")
    total_amount = models.DecimalField(max_digits=11, decimal_places=2)
    currency = models.CharField(max_length=3)
    placed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "orders_order"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    book_id = models.UUIDField()
    title = models.CharField(max_length=200)
    quantity = models.IntegerField()
    unit_price_amount = models.DecimalField(max_digits=11, decimal_places=2)

    class Meta:
        managed = False
        db_table = "orders_orderitem"


class IdempotentResponse(models.Model):
    """The answer given for an ``Idempotency-Key`` (the product's table)."""

    actor = models.CharField(max_length=36)
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "messaging_idempotentresponse"
