"""The API's token authentication: DRF's, with its query built once."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from messaging import sql


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, the same answers to the same
    keys, reading the token with its account in one query built once
    (``messaging.rows``): every API request authenticates, and compiling
    DRF's ``select_related`` query anew cost more than running it."""

    def authenticate_credentials(self, key):
        token = sql.get(self.get_model(), key, related="user")
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


class BearerTokenAuthentication(TokenAuthentication):
    """The same token as ``Authorization: Bearer <token>``, the scheme most
    HTTP clients and libraries send; ``Token`` stays the challenge in
    ``WWW-Authenticate``, for it comes first in the settings."""

    keyword = "Bearer"
