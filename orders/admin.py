"""Orders and their items, for inspection; confirm, ship and cancel as
actions that dispatch commands."""

from django.contrib import admin
from django.db.models import OuterRef
from django.urls import reverse
from django.utils.html import format_html

from accounts.queries import username_of
from interfaces.admin import ReadOnlyAdmin, dispatch_each

from .commands import CancelOrder, ConfirmOrder, ShipOrder
from .models import Order, OrderItem


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["title", "book_id", "quantity", "unit_price_amount"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "status", "total", "placed_at"]
    list_filter = ["status", "currency", "placed_at"]
    search_fields = ["id", "customer_id"]
    readonly_fields = ["customer"]
    inlines = [OrderItemInline]
    actions = ["confirm", "ship", "cancel"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(customer_username=username_of(OuterRef("customer_id")))

    @admin.display(description="order", ordering="id")
    def number(self, order: Order) -> str:
        return f"#{str(order.pk)[:8]}"

    @admin.display(description="customer", ordering="customer_username")
    def customer(self, order: Order) -> str:
        url = reverse("admin:accounts_account_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>', url, order.customer_username or order.customer_id)

    @admin.action(description="Confirm the selected orders", permissions=["operate"])
    def confirm(self, request, queryset):
        self._dispatch(request, queryset, ConfirmOrder, "Confirmed {count} order(s); the customers are told by mail.")

    @admin.action(description="Ship the selected orders", permissions=["operate"])
    def ship(self, request, queryset):
        self._dispatch(request, queryset, ShipOrder, "Shipped {count} order(s); the customers are told by mail.")

    @admin.action(description="Cancel the selected orders", permissions=["operate"])
    def cancel(self, request, queryset):
        self._dispatch(request, queryset, CancelOrder, "Cancelled {count} order(s); their copies are back on sale.")

    def _dispatch(self, request, queryset, command_type, done: str) -> None:
        me = request.user.pk
        commands = ((self.number(order), command_type(order_id=order.pk, actor_id=me)) for order in queryset)
        dispatch_each(self, request, commands, done)


@admin.register(OrderItem)
class OrderItemAdmin(ReadOnlyAdmin):
    list_display = ["title", "quantity", "unit_price_amount", "order"]
    search_fields = ["title", "order__id", "book_id"]
    list_select_related = ["order"]
