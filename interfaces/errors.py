"""The one error shape of the HTTP edge, the status of each rejection code,
and the answers Django gives before (or instead of) a view.

Every 4xx and 5xx of the API answers ``{"code", "detail"}``: a stable code
clients match on and a sentence for people. Invalid input (code
``invalid``) adds ``fields``, each invalid field (or header) naming its
messages, nested as the input is; what is wrong with the input as a whole
is said in ``detail``. A domain refusal is ``{code, detail}`` alone."""

import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from messaging.messages import Rejection
from messaging.registry import registry

API_PREFIX = "/api/"

# --- Refusals ---------------------------------------------------------------


def refusal_status(code: str) -> int:
    """The HTTP status a refusal with ``code`` answers, as the context that owns it declared it."""
    return registry.refusal(code).status


def error(code: str, detail: str, fields: dict | None = None) -> dict:
    """The body of every error: ``fields`` only for invalid fields."""
    return {"code": code, "detail": detail} | ({"fields": fields} if fields else {})


def invalid(detail) -> dict:
    """The body of a DRF ``ValidationError``, whose ``detail`` is a map of
    fields to messages, or a list of messages about the input as a whole
    (DRF's ``non_field_errors``), or both."""
    fields = dict(detail) if isinstance(detail, dict) else {}
    whole = fields.pop(api_settings.NON_FIELD_ERRORS_KEY, []) if fields else list(detail)
    said = " ".join(str(message) for message in whole)
    return error("invalid", said or "Invalid fields.", fields)


def is_api(request) -> bool:
    """Whether ``request`` is for the API, whose errors answer JSON even before a view runs."""
    return request.path_info.startswith(API_PREFIX)


def refused(rejection: Rejection) -> Response:
    """The answer to a command the domain refused."""
    return Response(error(rejection.code, rejection.reason), status=refusal_status(rejection.code))


def exception_handler(exc, context):
    """DRF's handler, with every error in the one shape (``invalid`` for a
    ``ValidationError``); anything DRF does not handle (a bug) is left to
    Django, which answers 500 and logs it.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None:
        is_invalid = isinstance(exc, exceptions.ValidationError)
        response.data = invalid(exc.detail) if is_invalid else error(exc.get_codes(), str(exc.detail))
    return response


# --- Errors Django answers before (or instead of) a view -----------------------
# Named as handler400/404/500 in config.urls: under /api/ they answer the
# error shape too, elsewhere Django's own pages.


def bad_request(request, exception):
    """400, or 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        detail = f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        return JsonResponse(error("request_too_large", detail), status=413)
    return JsonResponse(error("bad_request", "Bad request."), status=400)


def page_not_found(request, exception):
    """404 for an unknown path, or an id in a path that is no id."""
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error("not_found", "Not found."), status=404)


def server_error(request):
    """500: a bug, logged by Django; 503 when the database is unreachable
    (``outages``: an error raised before a view, in a middleware)."""
    if is_outage(sys.exc_info()[1]):
        return unavailable(request)
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse(error("server_error", "Something went wrong on our side."), status=500)


# --- The database unreachable ---------------------------------------------
# 503 with Retry-After, never a 500: nothing is broken, come back soon. A
# database error is an outage when the connection is gone (it could not be
# opened, or it no longer answers); a deadlock or a locked SQLite file on a
# live connection is not, and stays a 500 that Django logs.

UNAVAILABLE = "The service is briefly unavailable; try again in a few seconds."


def is_outage(exception: BaseException | None) -> bool:
    """Whether ``exception`` says the database cannot be reached."""
    if not isinstance(exception, (OperationalError, InterfaceError)):
        return False
    return connection.connection is None or not connection.is_usable()


def unavailable(request) -> HttpResponse:
    """The 503 a request gets while the database is unreachable: the error
    shape under the API, a page of the site's own elsewhere, rendered
    without the request (its context, the user and the messages, would need
    the database)."""
    if is_api(request):
        response = JsonResponse(error("unavailable", UNAVAILABLE), status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"detail": UNAVAILABLE}), status=503)
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response
