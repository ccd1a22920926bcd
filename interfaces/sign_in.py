"""Limits on failed sign-ins, on every way in: the login page, the admin's
and the API's token endpoint.

All three sign in through ``django.contrib.auth.authenticate``, so the
limit sits in the authentication backend (``AUTHENTICATION_BACKENDS``):
failures are counted in the cache per (username, client address) and per
client address (``interfaces.clients.client_address``, as the API's throttles
find it). Past either limit, every attempt from that address, right or
wrong, is refused until the cool-off has passed since the last failure.
Never per username alone: a stranger can lock out their own address,
never the account's owner signing in from elsewhere.

The backend marks the request; ``SignInLimitMiddleware`` answers it with
429 and ``Retry-After``: ``{code, detail}`` under ``/api/``, a page
elsewhere.
"""

import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac

from .clients import client_address
from .errors import error, is_api

LOCKED_CODE = "too_many_failed_sign_ins"


def retry_after(request, username: str | None) -> int | None:
    """Seconds until ``username`` may try to sign in again from this
    request's address; ``None`` when it may now."""
    now, waits = time.time(), []
    for key, limit in _counters(request, username):
        failures, last_failure = cache.get(key, (0, now))
        if failures >= limit:
            waits.append(last_failure + settings.SIGN_IN_COOL_OFF_SECONDS - now)
    return max(1, math.ceil(max(waits))) if waits else None


def record_failure(request, username: str | None) -> None:
    """Count one failed sign-in for the username and for the address; each
    count is forgotten a cool-off after its last failure."""
    now = time.time()
    for key, _ in _counters(request, username):
        failures, _ = cache.get(key, (0, now))
        cache.set(key, (failures + 1, now), timeout=settings.SIGN_IN_COOL_OFF_SECONDS)


def _counters(request, username: str | None) -> list[tuple[str, int]]:
    address = client_address(request)
    # Usernames are unique whatever their case; hashed, so the cache holds no
    # names people typed (a password typed into the username field, say). The
    # salt keeps its first module's name, so counts survive the move.
    name = salted_hmac("config.sign_in", (username or "").lower(), algorithm="sha256").hexdigest()
    return [
        (f"sign-in:{address}:{name}", settings.SIGN_IN_FAILURES_PER_USERNAME),
        (f"sign-in:{address}", settings.SIGN_IN_FAILURES_PER_ADDRESS),
    ]


class SignInLimitBackend(ModelBackend):
    """Django's username and password check, refused while the client is
    locked out and counting each failure."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not over HTTP (Django's own tools): nobody to count
            return super().authenticate(request, username, password, **kwargs)
        # DRF passes its own Request, which wraps Django's; the middleware sees Django's.
        http_request = getattr(request, "_request", request)
        if (wait := retry_after(http_request, username)) is not None:
            http_request.sign_in_retry_after = wait
            raise PermissionDenied  # authenticate() then tries no other backend
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            record_failure(http_request, username)
            # The failure that reaches a limit already says so.
            if (wait := retry_after(http_request, username)) is not None:
                http_request.sign_in_retry_after = wait
        return user


class SignInLimitMiddleware:
    """Answers a sign-in the backend refused as locked out: 429 with
    ``Retry-After``, in the API's error shape under ``/api/``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        wait = getattr(request, "sign_in_retry_after", None)
        if wait is None:
            return response
        minutes = math.ceil(wait / 60)
        detail = f"Too many failed sign-ins from your address. Try again in {minutes} minute(s)."
        if is_api(request):
            locked = JsonResponse(error(LOCKED_CODE, detail), status=429)
        else:
            locked = render(request, "sign_in_limited.html", {"detail": detail}, status=429)
        locked["Retry-After"] = str(wait)
        return locked
