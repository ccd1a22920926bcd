"""The plain DRF app's views: validate, one transaction, answer. Token
authentication against knox's digests, ``select_for_update`` where two
requests could race, an ``Idempotency-Key`` answer stored in the write's own
transaction. No commands, no events, no bus."""

import functools
import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.shortcuts import get_object_or_404
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .models import (
    Account,
    AccountStats,
    Block,
    Book,
    Follow,
    IdempotentResponse,
    Inventory,
    Order,
    OrderItem,
    Reservation,
)


def conflict(code: str, detail: str) -> Response:
    return Response({"code": code, "detail": detail}, status=409)


def idempotent(view):
    """With an ``Idempotency-Key``: replay the answer stored for the user's
    key (422 if the request differs), or run the view and store its answer
    in the same transaction; a concurrent twin loses on the unique key and
    replays."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(request, *args, **kwargs)
        actor = str(request.user.pk)
        fingerprint = hashlib.sha256(json.dumps([request.path, request.data], sort_keys=True).encode()).hexdigest()
        try:
            with transaction.atomic():
                stored = IdempotentResponse.objects.filter(actor=actor, idempotency_key=key).first()
                if stored is None:
                    response = view(request, *args, **kwargs)
                    IdempotentResponse.objects.create(
                        actor=actor,
                        idempotency_key=key,
                        request_fingerprint=fingerprint,
                        status=response.status_code,
                        body=json.dumps(response.data, default=str),
                    )
                    return response
        except IntegrityError:
            stored = IdempotentResponse.objects.get(actor=actor, idempotency_key=key)
        if stored.request_fingerprint != fingerprint:
            return Response({"code": "idempotency_key_reused", "detail": "Key used for another request."}, 422)
        return Response(json.loads(stored.body), status=stored.status, headers={"Idempotent-Replayed": "true"})

    return wrapper


class BookSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=11, decimal_places=2, source="price_amount")
    currency = serializers.CharField(source="price_currency")
    stock = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "author", "isbn", "price", "currency", "stock"]

    def get_stock(self, book) -> int:
        return book.inventory.on_hand - book.inventory.reserved


@api_view(["GET"])
@permission_classes([AllowAny])
def book(request, pk):
    """One book with its stock."""
    return Response(BookSerializer(get_object_or_404(Book.objects.select_related("inventory"), pk=pk)).data)


class AccountSerializer(serializers.ModelSerializer):
    followers_count = serializers.IntegerField(source="stats.followers_count", default=0)
    following_count = serializers.IntegerField(source="stats.following_count", default=0)

    class Meta:
        model = Account
        fields = ["id", "username", "is_active", "followers_count", "following_count", "date_joined", "email"]

    def to_representation(self, account):
        data = super().to_representation(account)
        viewer = self.context["request"].user
        if not (viewer.is_staff or viewer.pk == account.pk):
            del data["email"]
        return data


@api_view(["GET"])
def account(request, pk):
    """One account with its counts."""
    found = get_object_or_404(Account.objects.select_related("stats"), pk=pk)
    return Response(AccountSerializer(found, context={"request": request}).data)


@api_view(["POST"])
@idempotent
def follow(request, pk):
    """Follow an account: 201 when new, 200 when it was there; 409 for oneself,
    an inactive account, a block either way or the follow limit."""
    me = request.user.pk
    if pk == me:
        return conflict("cannot_follow_self", "You cannot follow yourself.")
    with transaction.atomic():
        # Both rows locked in id order: a block of the pair waits for this follow, or this for it.
        pair = {row.pk: row for row in Account.objects.select_for_update().filter(pk__in=[me, pk]).order_by("pk")}
        if pk not in pair:
            raise exceptions.NotFound("No such account.")
        if not (pair[pk].is_active and pair[me].is_active):
            return conflict("account_inactive", "This account is inactive.")
        if Block.objects.filter(Q(blocker_id=me, blocked_id=pk) | Q(blocker_id=pk, blocked_id=me)).exists():
            return conflict("blocked", "You cannot follow this account: there is a block between you.")
        created = not Follow.objects.filter(follower_id=me, followee_id=pk).exists()
        if created:
            # The counts in id order too; the follower's only while under the limit.
            for account_id in sorted([me, pk]):
                if account_id == me:
                    moved = AccountStats.objects.filter(account_id=me, following_count__lt=settings.FOLLOW_LIMIT)
                    if not moved.update(following_count=F("following_count") + 1):
                        transaction.set_rollback(True)
                        return conflict("follow_limit_reached", "You follow as many accounts as you may.")
                else:
                    AccountStats.objects.filter(account_id=pk).update(followers_count=F("followers_count") + 1)
            Follow.objects.create(follower_id=me, followee_id=pk)
        followed_by = Follow.objects.filter(follower_id=pk, followee_id=me).exists()
    relationship = {"following": True, "followed_by": followed_by, "blocking": False, "blocked_by": False}
    return Response(relationship, status=201 if created else 200)


class OrderLineInput(serializers.Serializer):
    book_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=100)


class OrderInput(serializers.Serializer):
    items = OrderLineInput(many=True, min_length=1, max_length=20)

    def validate_items(self, items):
        if len({line["book_id"] for line in items}) != len(items):
            raise serializers.ValidationError("A book appears twice.")
        return items


class OrderItemOutput(serializers.ModelSerializer):
    unit_price = serializers.DecimalField(max_digits=11, decimal_places=2, source="unit_price_amount")

    class Meta:
        model = OrderItem
        fields = ["book_id", "title", "quantity", "unit_price"]


class OrderOutput(serializers.ModelSerializer):
    total = serializers.DecimalField(max_digits=11, decimal_places=2, source="total_amount")

    class Meta:
        model = Order
        fields = ["id", "status", "total", "currency", "placed_at"]


@api_view(["POST"])
@idempotent
def place_order(request):
    """Place an order: every copy reserved at once (the inventory rows locked
    in book order), or 409 and nothing reserved."""
    payload = OrderInput(data=request.data)
    payload.is_valid(raise_exception=True)
    wanted = {line["book_id"]: line["quantity"] for line in payload.validated_data["items"]}
    with transaction.atomic():
        stock = list(
            Inventory.objects.select_related("book")
            .select_for_update(of=("self",))
            .filter(book_id__in=wanted)
            .order_by("book_id")
        )
        if len(stock) != len(wanted):
            raise exceptions.ValidationError({"items": ["No such book."]})
        if len({row.book.price_currency for row in stock}) > 1:
            return conflict("mixed_currencies", "An order is in one currency.")
        for row in stock:
            if row.on_hand - row.reserved < wanted[row.book_id]:
                transaction.set_rollback(True)
                return conflict("insufficient_stock", f"Not enough of {row.book.title} in stock.")
            row.reserved += wanted[row.book_id]
            row.save(update_fields=["reserved"])
        order = Order.objects.create(
            customer_id=request.user.pk,
            total_amount=sum(row.book.price_amount * wanted[row.book_id] for row in stock),
            currency=stock[0].book.price_currency,
        )
        items = OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                book_id=row.book_id,
                title=row.book.title,
                quantity=wanted[row.book_id],
                unit_price_amount=row.book.price_amount,
            )
            for row in stock
        )
        Reservation.objects.bulk_create(
            Reservation(order_id=order.pk, book_id=row.book_id, quantity=wanted[row.book_id]) for row in stock
        )
    return Response({**OrderOutput(order).data, "items": OrderItemOutput(items, many=True).data}, status=201)
