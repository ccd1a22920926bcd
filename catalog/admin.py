"""Books, their inventory and the stock held for orders, for inspection;
restocking as an action that dispatches ``RestockBook``."""

from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from interfaces.admin import ReadOnlyAdmin, dispatch_each

from .commands import RestockBook
from .forms import QuantityForm
from .models import Book, Inventory, Reservation


@admin.register(Book)
class BookAdmin(ReadOnlyAdmin):
    list_display = ["title", "author", "isbn", "price", "available", "on_hand", "reserved", "added_at"]
    list_filter = ["price_currency", "added_at"]
    search_fields = ["title", "author", "isbn"]
    list_select_related = ["inventory"]
    readonly_fields = ["available", "on_hand", "reserved"]
    actions = ["restock"]

    @admin.display(description="available")
    def available(self, book: Book) -> int:
        return book.inventory.available

    @admin.display(description="on hand", ordering="inventory__on_hand")
    def on_hand(self, book: Book) -> int:
        return book.inventory.on_hand

    @admin.display(description="reserved", ordering="inventory__reserved")
    def reserved(self, book: Book) -> int:
        return book.inventory.reserved

    @admin.action(description="Restock the selected books…", permissions=["operate"])
    def restock(self, request, queryset):
        """First ask how many copies (an intermediate page), then dispatch one command per book."""
        form = QuantityForm(request.POST if "quantity" in request.POST else None)
        if form.is_valid():
            quantity, me = form.cleaned_data["quantity"], request.user.pk
            commands = ((book.title, RestockBook(book_id=book.pk, quantity=quantity, actor_id=me)) for book in queryset)
            dispatch_each(self, request, commands, f"Restocked {{count}} book(s), {quantity} copies each.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Restock books",
            "opts": self.opts,
            "books": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/catalog/book/restock.html", context)


@admin.register(Inventory)
class InventoryAdmin(ReadOnlyAdmin):
    list_display = ["book", "on_hand", "reserved", "available", "initial_stock_received"]
    list_filter = ["initial_stock_received"]
    search_fields = ["book__title", "book__isbn"]
    list_select_related = ["book"]

    @admin.display(description="available")
    def available(self, inventory: Inventory) -> int:
        return inventory.available


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["order_id", "book", "quantity", "status", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["order_id", "book__title"]
    list_select_related = ["book"]
