"""Limits on password guesses, on every path that checks a password: the
login page, the admin's login and password change, the API's token
endpoint, and the pages and endpoints that ask a signed-in person for their
password again ("forget me").

Every attempt is counted **before** its password is checked, by the cache's
atomic ``add`` and ``incr``, per (username, client address) and per client
address (``interfaces.clients.client_address``, as the API's throttles find
it). An attempt whose count passes a limit is refused without a check, so
however many guesses arrive at once, at most the limit of them are ever
evaluated. A right password gives its count back, so only failures use up
the limit. Each count is forgotten a cool-off after the last attempt it
counted. Never per username alone: a stranger can lock out their own
address, never the account's owner signing in from elsewhere.

The counts must live in one cache every worker shares and that increments
atomically (locmem for one process, Redis for several): the deploy checks
warn about a cache that counts apart or by read-then-write (``check_cache``).

The check marks the request; ``SignInLimitMiddleware`` answers it with 429
and ``Retry-After``: ``{code, detail}`` under ``/api/``, a page elsewhere.
"""

import logging
import math

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core import checks
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac

from .clients import client_address
from .errors import error, is_api

LOCKED_CODE = "too_many_failed_sign_ins"

logger = logging.getLogger(__name__)


class Attempt:
    """One password attempt, counted when it is made (``claim``): allowed or
    refused at once, and given back (``succeeded``) if its password was right."""

    def __init__(self, request, username: str | None):
        # DRF passes its own Request, which wraps Django's; the middleware sees Django's.
        self.request = getattr(request, "_request", request)
        self.counters = _counters(self.request, username)
        self.counts: list[int] = []

    def claim(self) -> bool:
        """Count the attempt on every counter; ``False`` (the request marked
        locked out) when any count is past its limit: then no password may
        be checked."""
        self.counts = [_count(key) for key, _ in self.counters]
        if any(count > limit for count, (_, limit) in zip(self.counts, self.counters, strict=True)):
            self._lock_out()
            return False
        return True

    def succeeded(self) -> None:
        """The password was right: its attempt is not a failure."""
        for key, _ in self.counters:
            try:
                cache.decr(key)
            except ValueError:  # forgotten meanwhile
                pass

    def failed(self) -> None:
        """The password was wrong: logged, and the failure that reaches a
        limit already answers as locked out."""
        logger.warning(
            "Failed sign-in from %s (%s of %s for this username from there)",
            client_address(self.request),
            self.counts[0],
            self.counters[0][1],
        )
        if any(count >= limit for count, (_, limit) in zip(self.counts, self.counters, strict=True)):
            self._lock_out()

    def _lock_out(self) -> None:
        self.request.sign_in_retry_after = settings.SIGN_IN_COOL_OFF_SECONDS


def _count(key: str) -> int:
    """Add one to ``key`` atomically and restart its cool-off; its new count."""
    timeout = settings.SIGN_IN_COOL_OFF_SECONDS
    cache.add(key, 0, timeout=timeout)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=timeout)
        count = cache.incr(key)
    cache.touch(key, timeout=timeout)  # Redis's INCR keeps a key's TTL, which may have lapsed in between
    return count


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


def check_password(request, account, password: str) -> bool:
    """Whether ``password`` is the signed-in ``account``'s, counted as a
    sign-in attempt of its username from this request's address: a stolen
    session may guess no faster than a stranger at the login page. ``False``
    without a check when the address is locked out (the request is marked)."""
    attempt = Attempt(request, account.get_username())
    if not attempt.claim():
        return False
    if account.check_password(password):
        attempt.succeeded()
        return True
    attempt.failed()
    return False


class SignInLimitBackend(ModelBackend):
    """Django's username and password check, counting each attempt before
    it and refusing it past a limit."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not over HTTP (Django's own tools): nobody to count
            return super().authenticate(request, username, password, **kwargs)
        attempt = Attempt(request, username)
        if not attempt.claim():
            raise PermissionDenied  # authenticate() then tries no other backend
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            attempt.failed()
        else:
            attempt.succeeded()
        return user


class SignInLimitMiddleware:
    """Answers a sign-in the limits refused as locked out: 429 with
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


def check_cache(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The sign-in limits and throttles need one cache, shared by every
    worker, that increments atomically."""
    backend = type(caches[DEFAULT_CACHE_ALIAS])
    if backend.incr is BaseCache.incr:
        return [
            checks.Warning(
                f"The cache ({backend.__name__}) increments by reading then writing: parallel sign-in "
                "attempts may all pass the limits.",
                hint="Set CACHE_URL to a Redis URL (rediscache://host:6379/1).",
                id="interfaces.W001",
            )
        ]
    if issubclass(backend, LocMemCache):
        return [
            checks.Warning(
                "The cache is each process's own memory: with several gunicorn workers each counts "
                "sign-in attempts and throttles apart.",
                hint="Set CACHE_URL to a Redis URL (rediscache://host:6379/1), or run a single worker.",
                id="interfaces.W002",
            )
        ]
    return []
