"""Pages of orders: placing one from a book's page, the customer's orders
with cancel, and the staff console's orders (confirm, ship)."""

from typing import NamedTuple

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from interfaces.forms import IdempotentForm
from interfaces.pages import dispatch_for, report, report_invalid, staff_required, throttled
from interfaces.throttles import OrderPlacementThrottle
from messaging.messages import Command

from . import queries
from .commands import CancelOrder, ConfirmOrder, PlaceOrder, ShipOrder
from .forms import PlaceOrderForm
from .models import Order, is_theirs
from .values import OrderLine

PAGE_SIZE = 20


class StaffAction(NamedTuple):
    command: type[Command]
    done: str


STAFF_ACTIONS = {
    "confirm": StaffAction(ConfirmOrder, "Order confirmed; the customer is told by mail."),
    "ship": StaffAction(ShipOrder, "Order shipped; the customer is told by mail."),
}


@require_POST
@login_required
def place_order(request):
    """Order copies of one book (the form on the book's page). Throttled per
    customer with the API's orders (``THROTTLE_RATE_ORDERS``)."""
    back = reverse("catalog:books")
    if limited := throttled(request, OrderPlacementThrottle(), "orders", back_url=back, back_text="Back to the books"):
        return limited
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        report_invalid(request, form)
        book_id = form.cleaned_data.get("book_id")
        return redirect("catalog:book", book_id) if book_id else redirect("catalog:books")
    data = form.cleaned_data
    command = PlaceOrder(
        items=(OrderLine(book_id=data["book_id"], quantity=data["quantity"]),),
        actor_id=request.user.pk,
        idempotency_key=form.key,
    )
    if report(request, dispatch_for(request, command), "Order placed. It is pending until the shop confirms it."):
        return redirect("orders:mine")
    return redirect("catalog:book", data["book_id"])


@login_required
def my_orders(request):
    """The signed-in customer's orders, newest first, with a cancel button where it applies."""
    page = Paginator(queries.orders(customer_id=request.user.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "orders/my_orders.html",
        {
            "page": page,
            "rows": [(order, IdempotentForm()) for order in page],
            "cancellable": Order.MOVES["cancel"].start,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def cancel_order(request, order_id):
    """Cancel an order; the handler lets only its customer (or staff) do it.
    A GET asks first, showing the order."""
    if request.method == "GET":
        return _confirm_cancel(request, order_id)
    form = IdempotentForm(request.POST)
    if form.is_valid():
        command = CancelOrder(order_id=order_id, actor_id=request.user.pk, idempotency_key=form.key)
        report(request, dispatch_for(request, command), "Order cancelled; its copies are back on sale.")
    else:
        report_invalid(request, form)
    return redirect("orders:mine")


def _confirm_cancel(request, order_id):
    order = queries.orders().filter(pk=order_id).first()
    if order is None or not is_theirs(
        order.customer_id, actor_id=request.user.pk, actor_is_staff=request.user.is_staff
    ):
        raise Http404("No such order.")
    return render(
        request,
        "confirm.html",
        {
            "question": "Cancel this order?",
            "consequence": "Its copies go back on sale; to have them again you would order anew.",
            "details": "orders/_order.html",
            "order": order,
            "action": request.path,
            "form": IdempotentForm(),
            "confirm": "Yes, cancel the order",
            "back": reverse("orders:mine"),
        },
    )


@staff_required
def staff_orders(request):
    """The console's orders, filtered by status, with confirm and ship buttons."""
    status = request.GET.get("status", "")
    if status not in Order.Status.values:
        status = ""
    page = Paginator(queries.orders_for_staff(status), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "orders/staff_orders.html",
        {
            "page": page,
            "rows": [(order, IdempotentForm()) for order in page],
            "status": status,
            "statuses": Order.Status.choices,
            "confirmable": Order.MOVES["confirm"].start,
            "shippable": Order.MOVES["ship"].start,
        },
    )


@require_POST
@staff_required
def change_order(request, order_id, action):
    """Confirm or ship an order from the console, then back to the same list."""
    if action not in STAFF_ACTIONS:
        raise Http404(f"No action {action!r}.")
    form = IdempotentForm(request.POST)
    if form.is_valid():
        command = STAFF_ACTIONS[action].command(order_id=order_id, actor_id=request.user.pk, idempotency_key=form.key)
        report(request, dispatch_for(request, command), STAFF_ACTIONS[action].done)
    else:
        report_invalid(request, form)
    back = reverse("orders:staff_orders")
    return redirect(f"{back}?{request.GET.urlencode()}" if request.GET else back)
