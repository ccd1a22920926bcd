"""REST endpoints of the orders context: placing orders and moving them on.

A customer sees and cancels their own orders; staff see every order and
confirm, ship or cancel any. Someone else's order answers 404, as if it did
not exist. Writes go through ``interfaces.api_commands.execute``; reads through
``orders.queries``.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.refusals import AccountRefusal
from catalog.refusals import CatalogRefusal
from interfaces.api_commands import execute, validated
from interfaces.schema import errors
from interfaces.throttles import OrderPlacementThrottle
from interfaces.viewsets import ApiViewSet

from . import queries
from .commands import CancelOrder, ConfirmOrder, PlaceOrder, ShipOrder
from .models import Order, is_theirs
from .refusals import OrderRefusal
from .values import MAX_LINES, MAX_QUANTITY, OrderLine

# --- Input --------------------------------------------------------------------


class OrderLineInput(serializers.Serializer):
    book_id = serializers.UUIDField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderInput(serializers.Serializer):
    items = OrderLineInput(many=True, min_length=1, max_length=MAX_LINES)


class OrderFilter(serializers.Serializer):
    """The query of the orders list."""

    status = serializers.ChoiceField(
        choices=Order.Status.choices, required=False, help_text="Only orders in this status."
    )


# --- Output -------------------------------------------------------------------


class OrderItemOutput(serializers.Serializer):
    book_id = serializers.UUIDField()
    title = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=11, decimal_places=2, source="unit_price.amount")


class OrderOutput(serializers.Serializer):
    """An order; prices are the catalog's when it was placed, in ``currency``."""

    id = serializers.UUIDField(source="order_id")
    status = serializers.ChoiceField(choices=["PENDING", "CONFIRMED", "SHIPPED", "CANCELLED"])
    items = OrderItemOutput(many=True)
    total = serializers.DecimalField(max_digits=11, decimal_places=2, source="total.amount")
    currency = serializers.CharField(source="total.currency")
    placed_at = serializers.DateTimeField()


# --- Views --------------------------------------------------------------------

_MOVE = errors(404, refusals=[OrderRefusal.INVALID_TRANSITION])


class OrderViewSet(ApiViewSet):
    """Orders."""

    lookup_value_converter = "uuid"
    inputs = {"create": OrderInput}

    def get_throttles(self):
        return [OrderPlacementThrottle()] if self.action == "create" else []

    def get_permissions(self):
        if self.action in ("confirm", "ship"):
            return [permissions.IsAdminUser()]
        return [permissions.IsAuthenticated()]

    @extend_schema(parameters=[OrderFilter], responses={200: OrderOutput(many=True), **errors(400)})
    def list(self, request):
        """Your orders, newest first (staff: every order), in one status if asked."""
        query = validated(OrderFilter, request.query_params)
        customer_id = None if request.user.is_staff else request.user.pk
        page = self.paginate_queryset(queries.orders(customer_id=customer_id, status=query.get("status", "")))
        return self.get_paginated_response(OrderOutput([queries.order_view(row) for row in page], many=True).data)

    @extend_schema(responses={200: OrderOutput, **errors(404)})
    def retrieve(self, request, pk):
        """One of your orders (staff: any order)."""
        return Response(self._order(pk))

    @extend_schema(
        responses={
            201: OrderOutput,
            **errors(
                400,
                bad_request="Invalid fields.",
                conflict="Refused, and nothing is reserved.",
                refusals=[
                    OrderRefusal.DUPLICATE_BOOK,
                    OrderRefusal.ORDER_TOO_LARGE,
                    CatalogRefusal.BOOK_NOT_FOUND,
                    OrderRefusal.INSUFFICIENT_STOCK,
                    OrderRefusal.HOLD_LIMIT_REACHED,
                    OrderRefusal.MIXED_CURRENCIES,
                    AccountRefusal.EMAIL_NOT_VERIFIED,
                ],
            ),
        },
    )
    def create(self, request):
        """Place an order: the copies are reserved at once, or none is
        (throttled per customer). The customer's e-mail address must be
        verified first (403 ``email_not_verified``)."""
        data = self.validated_body()
        command = PlaceOrder(items=tuple(OrderLine(**line) for line in data["items"]))
        # The answer is the order as placed, from the command's own event: no second read of what it wrote.
        return execute(
            request, command, render=lambda result: Response(OrderOutput(queries.as_placed(result.events[0])).data, 201)
        )

    @extend_schema(request=None, responses={200: OrderOutput, **_MOVE})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk):
        """Confirm a pending order (staff); the customer is mailed."""
        return self._move(request, ConfirmOrder(order_id=pk))

    @extend_schema(request=None, responses={200: OrderOutput, **_MOVE})
    @action(detail=True, methods=["post"])
    def ship(self, request, pk):
        """Ship a confirmed order (staff); the customer is mailed."""
        return self._move(request, ShipOrder(order_id=pk))

    @extend_schema(request=None, responses={200: OrderOutput, **_MOVE})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk):
        """Cancel your order (staff: any order) before it ships; its copies go back on sale."""
        return self._move(request, CancelOrder(order_id=pk))

    def _move(self, request, command) -> Response:
        return execute(request, command, render=lambda result: Response(self._order(command.order_id)))

    def _order(self, order_id) -> dict:
        order = queries.order(order_id)
        user = self.request.user
        if order is None or not is_theirs(order.customer_id, actor_id=user.pk, actor_is_staff=user.is_staff):
            raise NotFound("No such order.")
        return OrderOutput(order).data


router = SimpleRouter(use_regex_path=False)
router.register("orders", OrderViewSet, basename="order")

urlpatterns = router.urls
