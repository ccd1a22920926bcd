"""Riding out a database outage at the HTTP edge: a view that cannot reach
the database answers 503 with ``Retry-After`` (``errors.unavailable``)."""

import logging

from django.db import connection

from .errors import is_outage, unavailable

logger = logging.getLogger("interfaces.outages")


class DatabaseOutageMiddleware:
    """Turns a view's failure to reach the database into ``errors.unavailable``
    (what fails before a view, in another middleware, reaches
    ``errors.server_error``, which does the same)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_outage(exception):
            return None
        logger.warning("database unreachable: %s %s answered 503 (%s)", request.method, request.path, exception)
        connection.close()  # the next request opens a fresh one
        return unavailable(request)
