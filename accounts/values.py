"""Value objects of the accounts context. Each validates itself on creation
and raises ``django.core.exceptions.ValidationError`` with a readable message."""

import re
from dataclasses import dataclass, field
from typing import ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

# A username's rule, which the row, the forms and the serializers follow too.
MAX_USERNAME = 30
USERNAME_PATTERN = rf"[A-Za-z0-9_]{{3,{MAX_USERNAME}}}"

_USERNAME = re.compile(USERNAME_PATTERN)
_validate_email = EmailValidator(message="Enter a valid e-mail address.")


@dataclass(frozen=True)
class Email:
    """An e-mail address, normalised to lower case (so comparisons are exact)."""

    value: str

    def __post_init__(self):
        if not isinstance(self.value, str):
            raise ValidationError("Enter a valid e-mail address.", code="invalid_email")
        normalised = self.value.strip().lower()
        _validate_email(normalised)
        object.__setattr__(self, "value", normalised)

    def __str__(self):
        return self.value

    def to_primitive(self) -> str:
        return self.value

    @classmethod
    def from_primitive(cls, value) -> "Email":
        return cls(value)


@dataclass(frozen=True)
class Username:
    """3 to 30 letters, digits or underscores. Kept as typed; unique regardless of case."""

    value: str

    def __post_init__(self):
        if not isinstance(self.value, str) or not _USERNAME.fullmatch(self.value):
            raise ValidationError(
                "A username is 3 to 30 characters: letters, digits and underscores.", code="invalid_username"
            )

    def __str__(self):
        return self.value

    def to_primitive(self) -> str:
        return self.value

    @classmethod
    def from_primitive(cls, value) -> "Username":
        return cls(value)


@dataclass(frozen=True)
class Password:
    """A raw password on its way to being hashed. Its repr hides it, so a
    command holding one can be logged or shown in a traceback safely. A
    secret: no command holding one may wait in a schedule."""

    secret: ClassVar[bool] = True
    value: str = field(repr=False)

    def __post_init__(self):
        if not isinstance(self.value, str) or not self.value:
            raise ValidationError("A password is required.", code="invalid_password")

    def check_strength(self, *, username: str, email: str) -> None:
        """Django's password validators (``AUTH_PASSWORD_VALIDATORS``) for the
        account it would protect; ``ValidationError`` with every message.

        The one password policy: the handler enforces it for every interface,
        and forms and serializers call it to show the messages on their field.
        """
        # An unsaved account, only so the validators can compare the password
        # with the username and e-mail (and name those fields in their messages).
        validate_password(self.value, get_user_model()(username=username, email=email))

    def __repr__(self):
        return "Password('********')"

    __str__ = __repr__

    def to_primitive(self) -> str:
        return self.value

    @classmethod
    def from_primitive(cls, value) -> "Password":
        return cls(value)


@dataclass(frozen=True)
class PasswordHash:
    """A password hashed beforehand by Django's hashers (``make_password``).

    Hashing is slow on purpose, so seeding demo accounts hashes their shared
    password once and hands every registration the same hash. It hides
    itself in ``repr`` like a ``Password``, and is as secret.
    """

    secret: ClassVar[bool] = True
    value: str = field(repr=False)

    def __post_init__(self):
        try:
            identify_hasher(self.value)
        except (TypeError, ValueError):
            raise ValidationError("Not a password hash of a known hasher.", code="invalid_password_hash") from None

    def __repr__(self):
        return "PasswordHash('********')"

    __str__ = __repr__

    def to_primitive(self) -> str:
        return self.value

    @classmethod
    def from_primitive(cls, value) -> "PasswordHash":
        return cls(value)
