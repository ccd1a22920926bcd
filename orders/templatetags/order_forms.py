"""The order form other contexts' pages show.

A book's page (catalog) offers to order it, yet catalog imports nothing of
orders: its template asks for the form here, so the dependency runs from
the page to orders, never from catalog's code.
"""

from django import template

from ..forms import PlaceOrderForm

register = template.Library()


@register.inclusion_tag("orders/_order_form.html", takes_context=True)
def order_form(context, book_id):
    """The form that orders copies of ``book_id``, posted to ``orders:place``,
    with a fresh idempotency key."""
    return {"order_form": PlaceOrderForm(initial={"book_id": book_id}), "csrf_token": context.get("csrf_token")}
