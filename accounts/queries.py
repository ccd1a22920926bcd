"""Read side of the accounts context, for interfaces and other contexts."""

from uuid import UUID

from .models import Account


def account_id_for_username(username: str) -> UUID:
    """The id of the account with this username (any case); ``LookupError`` if none."""
    account_id = Account.objects.filter(username__iexact=username).values_list("pk", flat=True).first()
    if account_id is None:
        raise LookupError(f"no account is named {username!r}")
    return account_id
