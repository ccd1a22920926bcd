"""Each HTTP request carries one correlation id."""

from uuid import uuid4

from messaging.ambient import correlated
from messaging.serialization import parse_uuid

CORRELATION_HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    """Read ``X-Correlation-ID`` (a UUID; anything else is replaced by a
    new one), keep it on ``request.correlation_id`` for the commands the
    request issues, tag the request's log lines with it and send it back
    on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id = parse_uuid(request.headers.get(CORRELATION_HEADER)) or uuid4()
        request.correlation_id = correlation_id
        with correlated(correlation_id):
            response = self.get_response(request)
        response[CORRELATION_HEADER] = str(correlation_id)
        return response
