import pytest
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError

from accounts.values import Email, Password, PasswordHash, Username


def test_an_email_is_normalised_to_lower_case():
    assert str(Email("  Alice@Example.COM ")) == "alice@example.com"


@pytest.mark.parametrize("raw", ["", "alice", "alice@", "@example.com", "a b@example.com", None, 42])
def test_a_malformed_email_is_a_validation_error(raw):
    with pytest.raises(ValidationError):
        Email(raw)


@pytest.mark.parametrize("raw", ["bob", "Alice_01", "x" * 30])
def test_a_username_of_3_to_30_letters_digits_or_underscores_is_accepted(raw):
    assert str(Username(raw)) == raw


@pytest.mark.parametrize("raw", ["ab", "x" * 31, "has space", "dash-ed", "émile", "", None])
def test_any_other_username_is_a_validation_error_with_a_message(raw):
    with pytest.raises(ValidationError, match="3 to 30 characters"):
        Username(raw)


def test_a_password_never_shows_in_its_repr():
    password = Password("hunter2-secret")
    assert "hunter2" not in repr(password)
    assert "hunter2" not in str(password)


def test_a_password_hash_must_be_one_of_a_known_hasher_and_never_shows_in_its_repr():
    with pytest.raises(ValidationError):
        PasswordHash("demo-password")
    assert "md5" not in repr(PasswordHash(make_password("demo-password")))
