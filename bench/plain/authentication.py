"""Token authentication against django-rest-knox's digests (the product's tokens)."""

from django.utils import timezone
from knox.crypto import hash_token
from rest_framework import authentication, exceptions

from .models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = Token.objects.select_related("user").filter(digest=hash_token(key)).first()
        if token is None or (token.expiry is not None and token.expiry <= timezone.now()):
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
