"""Links that verify an account's e-mail address: a token signed with the
site's secret, naming the account and the address it was mailed to, that
expires after ``EMAIL_VERIFICATION_TIMEOUT`` seconds. It is written into the
mail when it is sent and stored nowhere; it stops working once the address
changes, and verifying twice does nothing more."""

from django.conf import settings
from django.core import signing

from .models import Account

_SALT = "accounts.verify_email"


def make_token(account: Account) -> str:
    """The token of a verification link for the account's current address."""
    return signing.dumps([str(account.pk), account.email.lower()], salt=_SALT, compress=True)


def account_for(token: str) -> Account | None:
    """The active account a token verifies, or ``None`` when the token is
    forged, expired, or its address is no longer the account's."""
    try:
        account_id, email = signing.loads(token, salt=_SALT, max_age=settings.EMAIL_VERIFICATION_TIMEOUT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    account = Account.objects.filter(pk=account_id, is_active=True).first()
    if account is None or account.email.lower() != email:
        return None
    return account
