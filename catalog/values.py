"""Value objects of the catalog context. Each validates itself on creation
and raises ``django.core.exceptions.ValidationError`` with a readable message.

``Money`` is also how the orders context speaks of prices and totals.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

CENT = Decimal("0.01")

# The limits of a book and its stock: the rules refuse beyond them, and
# the rows, forms and serializers take their sizes from here.
MAX_TITLE = 200  # characters
MAX_AUTHOR = 150  # characters
MAX_DESCRIPTION = 10_000  # characters
MAX_PRICE = Decimal("100000.00")  # in any currency
MAX_RESTOCK = 10_000  # copies added at a time
MAX_ON_HAND = 1_000_000  # copies of one book on hand

# Active ISO 4217 currencies whose minor unit is the cent (two places), the
# precision every amount here is kept to; JPY, KWD and the like are left out.
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG
    HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR
    SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES
    WST XCD XCG YER ZAR ZMW ZWG
    """.split()
)


@dataclass(frozen=True)
class Money:
    """An amount of one currency: a ``Decimal`` of at most two places (kept
    as exactly two), never negative, never a float, below a billion.

    Written down as ``{"amount": "12.50", "currency": "EUR"}``; read back
    from that, from text such as ``"12.50 EUR"`` or ``"12.50"`` (US dollars),
    or from a ``Decimal`` or ``int`` (US dollars). So on the shell
    ``price=12.50`` is 12.50 USD and ``price="12.50 EUR"`` is in euros.
    """

    amount: Decimal
    currency: str = "USD"

    MAX = Decimal("999999999.99")

    def __post_init__(self):
        object.__setattr__(self, "amount", _amount(self.amount))
        object.__setattr__(self, "currency", _currency(self.currency))

    def __str__(self):
        return f"{self.amount} {self.currency}"

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> "Money":
        return Money(self.amount * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(Decimal(0), currency)

    def to_primitive(self) -> dict:
        return {"amount": str(self.amount), "currency": self.currency}

    @classmethod
    def from_primitive(cls, value) -> "Money":
        if isinstance(value, dict):
            if set(value) - {"amount", "currency"} or "amount" not in value:
                raise ValidationError('Give money as {"amount": "12.50", "currency": "EUR"}.')
            return cls(_decimal(value["amount"]), value.get("currency", "USD"))
        if isinstance(value, str):
            amount, _, currency = value.strip().partition(" ")
            return cls(_decimal(amount), currency.strip() or "USD")
        return cls(value)


def _decimal(value) -> Decimal:
    """Text becomes a ``Decimal``; anything else is left for ``_amount`` to judge."""
    if not isinstance(value, str):
        return value
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not an amount.", code="invalid_money") from None


def _amount(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ValidationError(
            f"An amount is a decimal number such as 12.50, not {type(value).__name__}.", code="invalid_money"
        )
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0 or amount > Money.MAX:
        raise ValidationError(f"An amount is between 0 and {Money.MAX}.", code="invalid_money")
    if amount != amount.quantize(CENT):
        raise ValidationError("An amount has at most two decimal places.", code="invalid_money")
    return amount.quantize(CENT) + 0  # + 0 turns -0.00 into 0.00


def _currency(value) -> str:
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in CURRENCIES:
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code we accept.", code="invalid_currency")
    return code


_ISBN_10 = re.compile(r"[0-9]{9}[0-9X]")
_ISBN_13 = re.compile(r"97[89][0-9]{10}")
_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True)
class Isbn:
    """An ISBN, stored as the 13 digits of its ISBN-13 form.

    Accepts an ISBN-10 or ISBN-13 with hyphens or spaces; checks its check
    digit; turns an ISBN-10 into its ISBN-13 (978 prefix, new check digit).
    One form per book means the uniqueness of ISBNs holds however they were
    typed: ``0-7432-7356-7`` and ``978-0-7432-7356-5`` are the same book.
    """

    value: str

    def __post_init__(self):
        object.__setattr__(self, "value", _normalise_isbn(self.value))

    def __str__(self):
        return self.value

    def to_primitive(self) -> str:
        return self.value

    @classmethod
    def from_primitive(cls, value) -> "Isbn":
        # The shell reads 9780743273565 as a JSON number; digits are digits.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return cls(value)


def _normalise_isbn(value) -> str:
    invalid = ValidationError(f"{value!r} is not a valid ISBN-10 or ISBN-13.", code="invalid_isbn")
    if not isinstance(value, str) or len(value) > 40:
        raise invalid
    compact = _SEPARATORS.sub("", value).upper()
    if _ISBN_10.fullmatch(compact) and _isbn10_check(compact[:9]) == compact[9]:
        return "978" + compact[:9] + _isbn13_check("978" + compact[:9])
    if _ISBN_13.fullmatch(compact) and _isbn13_check(compact[:12]) == compact[12]:
        return compact
    raise invalid


def _isbn10_check(first_nine: str) -> str:
    remainder = -sum((10 - position) * int(digit) for position, digit in enumerate(first_nine)) % 11
    return "X" if remainder == 10 else str(remainder)


def _isbn13_check(first_twelve: str) -> str:
    return str(-sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(first_twelve)) % 10)
