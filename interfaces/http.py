"""Each HTTP request carries one correlation id, ours."""

import re
from uuid import uuid4

from messaging.ambient import correlated

CORRELATION_HEADER = "X-Correlation-ID"
CLIENT_CORRELATION_HEADER = "X-Client-Correlation-ID"
# What of a client's id is kept: short, and nothing a log line could be forged with.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


class CorrelationIdMiddleware:
    """Mint a correlation id for every request, whatever the client sent:
    it becomes the correlation id of the commands the request issues, tags
    its log lines and goes back on the response. A client's own
    ``X-Correlation-ID`` is never taken for ours (two strangers sending one
    id would share a trace); kept when it is short and plain, it stays
    beside ours: ``request.client_correlation_id``, the log lines'
    ``client_correlation_id``, and ``X-Client-Correlation-ID`` on the
    response, so the client can match the two."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id = uuid4()
        given = request.headers.get(CORRELATION_HEADER, "")
        client_id = given if _CLIENT_ID.fullmatch(given) else None
        request.correlation_id, request.client_correlation_id = correlation_id, client_id
        with correlated(correlation_id, client_id=client_id):
            response = self.get_response(request)
        response[CORRELATION_HEADER] = str(correlation_id)
        if client_id:
            response[CLIENT_CORRELATION_HEADER] = client_id
        return response
