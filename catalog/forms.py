"""Forms of the catalog pages and the staff console. Each cleans its input into value objects."""

from django import forms
from django.core.exceptions import ValidationError

from interfaces.forms import IdempotentForm

from .values import CURRENCIES, MAX_AUTHOR, MAX_DESCRIPTION, MAX_RESTOCK, MAX_TITLE, Isbn, Money


class BookSearchForm(forms.Form):
    q = forms.CharField(label="Search books", required=False, max_length=100)


class AddBookForm(IdempotentForm):
    title = forms.CharField(max_length=MAX_TITLE)
    author = forms.CharField(max_length=MAX_AUTHOR)
    isbn = forms.CharField(label="ISBN", required=False, max_length=40, help_text="ISBN-10 or ISBN-13; optional.")
    price = forms.DecimalField(min_value=0, max_digits=11, decimal_places=2)
    currency = forms.ChoiceField(choices=[(code, code) for code in sorted(CURRENCIES)], initial="USD")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=MAX_DESCRIPTION)

    def clean_isbn(self) -> Isbn | None:
        return Isbn(self.cleaned_data["isbn"]) if self.cleaned_data["isbn"] else None

    def clean(self):
        cleaned = super().clean()
        if "price" in cleaned and "currency" in cleaned:
            try:
                cleaned["price"] = Money(cleaned["price"], cleaned["currency"])
            except ValidationError as error:
                self.add_error("price", error)
        return cleaned


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_RESTOCK, initial=10)


class RestockForm(IdempotentForm, QuantityForm):
    pass
