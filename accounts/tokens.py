"""The API tokens a person controls: issued one per sign-in, listed,
revoked one at a time or all at once, and all revoked with the password or
the account (``revoke_all``, from the handlers of ``ChangePassword``,
``DeactivateAccount`` and ``ForgetAccount``, in their transaction).

Tokens are django-rest-knox's: the row keeps the token's SHA-512 digest,
never the token, which its owner sees once, when it is issued.
"""

from uuid import UUID

from django.conf import settings
from django.utils import timezone

from .models import Account, ApiToken


def issue(account: Account) -> tuple[ApiToken, str]:
    """A new token for ``account`` (expiring after ``REST_KNOX["TOKEN_TTL"]``)
    and its clear text, which is stored nowhere. The account's expired
    tokens go; past ``API_TOKENS_PER_ACCOUNT`` live ones, the oldest go too."""
    mine = ApiToken.objects.filter(user=account)
    mine.filter(expiry__lte=timezone.now()).delete()
    keep = max(settings.API_TOKENS_PER_ACCOUNT - 1, 0)
    oldest = mine.order_by("-created").values_list("digest", flat=True)[keep:]
    ApiToken.objects.filter(digest__in=list(oldest)).delete()
    return ApiToken.objects.create(account)


def live(account_id: UUID) -> list[ApiToken]:
    """The account's tokens that still authenticate, newest first."""
    return list(ApiToken.objects.filter(user_id=account_id, expiry__gt=timezone.now()).order_by("-created", "-expiry"))


def revoke(account_id: UUID, token_id: UUID) -> bool:
    """End one of the account's tokens; ``False`` if it has none by that id."""
    deleted, _ = ApiToken.objects.filter(user_id=account_id, id=token_id).delete()
    return deleted > 0


def revoke_all(account_id: UUID) -> int:
    """End every token of the account ("sign out everywhere"); how many there were."""
    deleted, _ = ApiToken.objects.filter(user_id=account_id).delete()
    return deleted
