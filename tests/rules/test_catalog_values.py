"""ISBN and Money validate and normalise themselves."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog.values import Isbn, Money


@pytest.mark.parametrize(
    "typed",
    ["9780743273565", "978-0-7432-7356-5", "978 0 7432 7356 5", "0743273567", "0-7432-7356-7", " 0 7432 73567 "],
)
def test_an_isbn_10_or_13_in_any_spacing_is_stored_as_the_isbn_13_digits(typed):
    assert Isbn(typed).value == "9780743273565"


def test_an_isbn_10_ending_in_x_is_converted_with_a_new_check_digit():
    assert Isbn("0-8044-2957-X").value == "9780804429573"


@pytest.mark.parametrize(
    "typed",
    [
        "9780743273566",  # wrong ISBN-13 check digit
        "0743273568",  # wrong ISBN-10 check digit
        "X743273567",  # X only as an ISBN-10's check digit
        "1234567890128",  # 13 digits but not a book's 978/979 prefix
        "97807432735",  # too short
        "978-0-7432-7356-5-1",
        "٩٧٨٠٧٤٣٢٧٣٥٦٥",  # digits, but not ASCII ones
        "",
    ],
)
def test_a_malformed_isbn_is_refused(typed):
    with pytest.raises(ValidationError):
        Isbn(typed)


def test_an_isbn_read_from_the_shell_as_a_number_is_accepted():
    assert Isbn.from_primitive(9780743273565) == Isbn("9780743273565")


def test_money_keeps_two_places_and_defaults_to_us_dollars():
    assert Money(Decimal("12.5")) == Money(Decimal("12.50"), "USD")
    assert str(Money(12)) == "12.00 USD"


@pytest.mark.parametrize(
    "amount",
    [12.5, Decimal("-0.01"), Decimal("NaN"), Decimal("Infinity"), Decimal("1000000000"), Decimal("1.005"), True, "1"],
)
def test_money_refuses_floats_negative_absurd_and_too_precise_amounts(amount):
    with pytest.raises(ValidationError):
        Money(amount)


@pytest.mark.parametrize("currency", ["XYZ", "JPY", "eu", "", None])
def test_money_refuses_a_currency_outside_iso_4217_with_cents(currency):
    with pytest.raises(ValidationError):
        Money(Decimal("1"), currency)


@pytest.mark.parametrize(
    "primitive, money",
    [
        ("12.50", Money(Decimal("12.50"), "USD")),
        ("12.50 eur", Money(Decimal("12.50"), "EUR")),
        (Decimal("7"), Money(Decimal("7"), "USD")),
        ({"amount": "3.10", "currency": "GBP"}, Money(Decimal("3.10"), "GBP")),
    ],
)
def test_money_reads_text_numbers_and_its_own_stored_form(primitive, money):
    assert Money.from_primitive(primitive) == money


@pytest.mark.parametrize("primitive", ["twelve", "12,50 EUR", {"amount": 1.5}, {"amount": "1", "rate": "2"}, 1.5])
def test_money_refuses_unreadable_primitives(primitive):
    with pytest.raises(ValidationError):
        Money.from_primitive(primitive)


def test_money_round_trips_through_its_stored_form():
    price = Money(Decimal("12.99"), "EUR")
    assert price.to_primitive() == {"amount": "12.99", "currency": "EUR"}
    assert Money.from_primitive(price.to_primitive()) == price


def test_money_of_different_currencies_does_not_add_up():
    with pytest.raises(ValueError):
        Money(Decimal("1"), "EUR") + Money(Decimal("1"), "USD")
