"""The API's token authentication: ``Authorization: Token <token>`` and
``Bearer <token>``, against the hashed tokens of django-rest-knox."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.crypto import hash_token
from knox.models import get_token_model
from rest_framework import authentication, exceptions

from messaging import sql


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing and answers, checking the token against the
    stored digests (``knox``): the token's SHA-512 is the row's primary key,
    so it is found in one query, with its account (``messaging.sql``, built
    once: every API request authenticates). An expired token, or one of a
    deactivated account, authenticates nobody."""

    def authenticate_credentials(self, key):
        token = sql.get(get_token_model(), hash_token(key), related="user")
        if token is None or (token.expiry is not None and token.expiry <= timezone.now()):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


class BearerTokenAuthentication(TokenAuthentication):
    """The same token as ``Authorization: Bearer <token>``, the scheme most
    HTTP clients and libraries send; ``Token`` stays the challenge in
    ``WWW-Authenticate``, for it comes first in the settings."""

    keyword = "Bearer"
