"""Forms of the orders pages."""

from django import forms

from interfaces.forms import IdempotentForm

from .values import MAX_QUANTITY


class PlaceOrderForm(IdempotentForm):
    book_id = forms.UUIDField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1)
