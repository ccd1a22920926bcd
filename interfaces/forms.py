"""Forms every page shares."""

from uuid import uuid4

from django import forms


class IdempotentForm(forms.Form):
    """A form that carries a fresh idempotency key, made when it is rendered.

    The view passes the key on as the command's ``idempotency_key``, so a
    double click or a resubmitted page has one effect.
    """

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid4)

    def renew_key(self) -> None:
        """Give a re-rendered form a new key: the old one is spent on the
        command that was refused, and a corrected submission is a new command."""
        self.data = self.data.copy()
        self.data[self.add_prefix("idempotency_key")] = str(uuid4())

    @property
    def key(self) -> str:
        return str(self.cleaned_data["idempotency_key"])


class TraceLookupForm(forms.Form):
    correlation_id = forms.UUIDField(label="Correlation id")
