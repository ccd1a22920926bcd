"""Forms of the accounts pages. Each cleans its input into value objects."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError

from interfaces import sign_in
from interfaces.forms import IdempotentForm

from .values import MAX_USERNAME, Email, Password, Username


class SignUpForm(IdempotentForm):
    username = forms.CharField(
        max_length=MAX_USERNAME, help_text=f"3 to {MAX_USERNAME} letters, digits or underscores."
    )
    email = forms.EmailField(label="E-mail")
    # Not stripped: the login form does not strip either, so spaces typed here still work there.
    password = forms.CharField(
        widget=forms.PasswordInput, strip=False, max_length=128, help_text=password_validators_help_text_html()
    )
    password_again = forms.CharField(label="Password (again)", widget=forms.PasswordInput, strip=False, max_length=128)

    def clean_username(self) -> Username:
        return Username(self.cleaned_data["username"])

    def clean_email(self) -> Email:
        return Email(self.cleaned_data["email"])

    def clean(self):
        cleaned = super().clean()
        password, again = cleaned.get("password"), cleaned.get("password_again")
        if password is None or again is None:
            return cleaned
        if password != again:
            self.add_error("password_again", "The two passwords differ.")
            return cleaned
        # The domain's policy (RegisterAccount enforces it), checked here too
        # so that its messages show on the password field.
        password = Password(password)
        try:
            password.check_strength(username=str(cleaned.get("username", "")), email=str(cleaned.get("email", "")))
        except ValidationError as error:
            self.add_error("password", error)
        else:
            cleaned["password"] = password
        return cleaned


class ForgetForm(IdempotentForm):
    """The signed-in person's password, given again before they are forgotten;
    checked under the sign-in limits (``interfaces.sign_in``)."""

    password = forms.CharField(widget=forms.PasswordInput, strip=False, max_length=128)

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not sign_in.check_password(self.request, self.request.user, password):
            raise ValidationError("This is not your password.")
        return password


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form (old password, new one twice), the old one checked under
    the sign-in limits (``interfaces.sign_in``)."""

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        if not sign_in.check_password(self.request, self.user, old_password):
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label="Search people", required=False, max_length=MAX_USERNAME)


class PasswordResetRequestForm(forms.Form):
    """The address a reset link goes to, if an account uses it."""

    email = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def clean_email(self) -> Email:
        try:
            return Email(self.cleaned_data["email"])
        except ValidationError as invalid:
            raise ValidationError(invalid.messages) from None
