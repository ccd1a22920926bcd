"""Throttles of the API: requests counted per client address."""

from rest_framework.throttling import SimpleRateThrottle

from .clients import client_address


class _PerAddressThrottle(SimpleRateThrottle):
    """Counts requests per client address, signed in or not; the rate is
    ``DEFAULT_THROTTLE_RATES[scope]`` (from the environment, see settings)."""

    def get_ident(self, request):
        return client_address(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInThrottle(_PerAddressThrottle):
    scope = "auth"


class RegistrationThrottle(_PerAddressThrottle):
    scope = "registration"


class PasswordResetThrottle(_PerAddressThrottle):
    """Requests for a reset link, on the page (which checks it itself: it is
    no API view); each request may send a mail to someone else."""

    scope = "password_reset"
