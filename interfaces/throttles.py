"""Throttles of the API and the pages: requests counted per client address,
or per signed-in person where the person is what is limited."""

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


class VerificationMailThrottle(SimpleRateThrottle):
    """Verification links asked for again, per signed-in person
    (``THROTTLE_RATE_VERIFICATION``), on the API and the pages alike: each
    sends a mail."""

    scope = "verification"

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class OrderPlacementThrottle(SimpleRateThrottle):
    """Orders placed per signed-in customer (``THROTTLE_RATE_ORDERS``), on the
    API and the book page alike: each order holds copies for a while, and a
    customer behind a shared address (an office, a mobile carrier) is not
    limited by their neighbours' orders. Anonymous requests are not counted:
    they are refused before anything is held."""

    scope = "orders"

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
