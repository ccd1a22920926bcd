"""Forms of the orders pages."""

from django import forms

from messaging.forms import IdempotentForm


class PlaceOrderForm(IdempotentForm):
    book_id = forms.UUIDField(widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=100, initial=1)
