"""Who is calling: the client's address, found one way for every limit.

The API's throttles, the limits on failed sign-ins and the idempotency keys
of signed-out callers all count by this address, so a client cannot be one
caller to one of them and another to the next.
"""

from rest_framework.settings import api_settings


def client_address(request) -> str:
    """The address of the client that sent ``request``.

    DRF's ``BaseThrottle.get_ident`` logic with ``NUM_PROXIES`` (setting
    ``API_NUM_PROXIES``): with no trusted proxy, the socket's address, and
    ``X-Forwarded-For`` (which anybody can send) is ignored; behind N
    trusted proxies, the N-th address from the right of ``X-Forwarded-For``,
    the one the outermost trusted proxy saw. ``NUM_PROXIES=None``, which
    would trust the whole forgeable header, is taken as no proxy.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR")
    num_proxies = api_settings.NUM_PROXIES or 0
    if num_proxies == 0 or forwarded_for is None:
        return remote_addr
    addresses = forwarded_for.split(",")
    return addresses[-min(num_proxies, len(addresses))].strip()
