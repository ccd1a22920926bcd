"""The HTTP edge every app's ``api.py`` shares.

One error shape (``{"code", "detail"}``; DRF's ``{field: [messages]}`` for
invalid fields), one mapping from rejection codes to statuses, one way to
run a command for a request (actor, correlation id, idempotency key), the
throttles, and the schema conventions that document all of it. (The JSON
parser and the pagination are in ``interfaces.rest``.)
"""

import dataclasses
import json
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.crypto import salted_hmac
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, permissions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from interfaces.clients import client_address
from messaging import idempotency
from messaging.bus import dispatch
from interfaces.http import CORRELATION_HEADER
from messaging.messages import Command, IdempotencyKeyReused, Rejection, Result

API_PREFIX = "/api/"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")

# --- Refusals ---------------------------------------------------------------

REFUSAL_STATUS = {
    # kernel
    "idempotency_key_reused": 422,
    "policy_only": 403,  # nobody may send it: only a policy does
    # accounts
    "account_not_found": 404,
    "account_already_exists": 409,
    "weak_password": 400,
    "account_inactive": 409,
    "cannot_follow_self": 409,
    "cannot_block_self": 409,
    "blocked": 409,
    "follow_limit_reached": 409,
    # catalog
    "book_not_found": 404,
    "invalid_book": 400,
    "invalid_price": 400,
    "invalid_quantity": 400,
    "duplicate_isbn": 409,
    # orders
    "order_not_found": 404,
    "customer_required": 403,  # only a signed-in customer places orders; no body fixes that
    "empty_order": 400,
    "too_many_items": 400,
    "duplicate_book": 400,
    "mixed_currencies": 409,
    "insufficient_stock": 409,
    "invalid_transition": 409,
}
"""The HTTP status of each rejection code; a code missing here is taken as
a conflict with the current state of things (409)."""


def refusal_status(code: str) -> int:
    return REFUSAL_STATUS.get(code, 409)


def error(code: str, detail: str) -> dict:
    """The body of every refusal."""
    return {"code": code, "detail": detail}


def is_api(request) -> bool:
    """Whether ``request`` is for the API, which answers only JSON."""
    return request.path_info.startswith(API_PREFIX)


def refused(rejection: Rejection) -> Response:
    """The answer to a command the domain refused."""
    return Response(error(rejection.code, rejection.reason), status=refusal_status(rejection.code))


def exception_handler(exc, context):
    """DRF's handler, with every error but field validation in ``{code, detail}``.

    Field errors keep DRF's ``{field: [messages]}``; anything DRF does not
    handle (a bug) is left to Django, which answers 500 and logs it.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and not isinstance(exc, exceptions.ValidationError):
        response.data = error(exc.get_codes(), str(exc.detail))
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
    """500: a bug, logged by Django."""
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse(error("server_error", "Something went wrong on our side."), status=500)


# --- Throttles ----------------------------------------------------------------


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


# --- Running a command for a request ------------------------------------------

Render = Callable[[Result], Response]


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """``data`` checked by an input serializer; invalid fields answer 400."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def execute(request, command: Command, *, render: Render) -> Response:
    """Dispatch ``command`` for ``request`` and answer with its outcome.

    The actor comes from authentication, the correlation id from the
    request (``interfaces.http``), the idempotency key from its header. A
    refusal answers ``{code, detail}`` with ``refusal_status``; otherwise
    ``render(result)`` builds the answer.

    With an ``Idempotency-Key``, the answer is stored and a repeat of the
    same request (same actor, or client address when signed out; key,
    method, path and body) gets it back,
    status and body, with ``Idempotent-Replayed: true``; a different
    request with the key gets 422 ``idempotency_key_reused``. Two layers
    make this hold:

    - the bus records the key with the command's events *inside the
      command's transaction* (``ProcessedCommand``), so a repeat never has
      a second effect, even one running concurrently: on PostgreSQL it
      waits for the first transaction and then replays its events;
    - the answer is stored (``IdempotentResponse``) right after that
      transaction and the policies it set off, because an answer must show
      their effects (a new book's stock, the follows a block removed),
      which do not exist before the commit. Storing it is first-writer-wins
      under a unique constraint, so a key has one answer. A repeat that
      arrives while the first request is between its commit and storing
      its answer waits for that answer; only if the first request died in
      that window does the repeat render the answer from the replayed
      result and store it.
    """
    actor_id = request.user.pk if request.user.is_authenticated else None
    key = _idempotency_key(request, actor_id)
    command = dataclasses.replace(
        command, actor_id=actor_id, correlation_id=getattr(request, "correlation_id", None), idempotency_key=key
    )
    if key is None:
        return _answer(dispatch(command), render)

    fingerprint = _fingerprint(request)
    stored = idempotency.stored_response(actor_id, key)
    if stored is None:
        result = dispatch(command)
        if result.rejection and result.rejection.code == "idempotency_key_reused":
            return refused(result.rejection)
        if not result.replayed:
            response = _answer(result, render)
            stored, mine = _store(actor_id, key, fingerprint, response)
            if mine:
                return response
        else:
            stored = idempotency.await_response(actor_id, key, seconds=settings.API_IDEMPOTENCY_WAIT_SECONDS)
            if stored is None:
                stored, _ = _store(actor_id, key, fingerprint, _answer(result, render))
    if stored.request_fingerprint != fingerprint:
        return refused(IdempotencyKeyReused.now())
    return Response(json.loads(stored.body), status=stored.status, headers={REPLAYED_HEADER: "true"})


def _answer(result: Result, render: Render) -> Response:
    return refused(result.rejection) if result.rejection else render(result)


def _store(actor_id, key: str, fingerprint: str, response: Response):
    return idempotency.store_response(
        actor_id=actor_id,
        key=key,
        request_fingerprint=fingerprint,
        status=response.status_code,
        body=JSONRenderer().render(response.data).decode(),
    )


def _idempotency_key(request, actor_id) -> str | None:
    """The request's key, in its actor's namespace.

    Signed-out callers have no actor to tell them apart, so their key is
    scoped by their client address (as the throttles find it): one
    stranger's key can neither block another's registration nor replay it
    its answer (which holds the e-mail). The body is no scope: the same key
    with another body from the same client must still answer 422.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not _VALID_KEY.fullmatch(key):
        raise exceptions.ValidationError(
            {IDEMPOTENCY_HEADER: ["An idempotency key is 1 to 255 printable ASCII characters."]}
        )
    if actor_id is None:
        # The salts keep the names of the module they were born in: renaming one
        # would orphan every stored key and answer.
        scoped = json.dumps([client_address(request), key])
        return "anonymous:" + salted_hmac("config.api.anonymous-key", scoped, algorithm="sha256").hexdigest()
    return key


def _fingerprint(request) -> str:
    """A keyed hash of what makes two requests the same one (the body may
    hold a password, so only the hash is kept)."""
    canonical = json.dumps([request.method, request.path, request.data], sort_keys=True, default=str)
    return salted_hmac("config.api.idempotency", canonical, algorithm="sha256").hexdigest()


# --- Schema -------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """A refusal: a stable code clients can match on, and a reason for people."""

    code = serializers.CharField()
    detail = serializers.CharField()


_FIELD_ERRORS = {
    "type": "object",
    "description": "Invalid fields: each names its messages (nested for nested fields).",
    "additionalProperties": {"oneOf": [{"type": "array"}, {"type": "object"}]},
}
_BAD_REQUEST = {
    "oneOf": [
        _FIELD_ERRORS,
        {
            "type": "object",
            "description": "A malformed request (bad JSON, a bad header).",
            "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
            "required": ["code", "detail"],
        },
    ]
}


def errors(*statuses: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """Schema entries for refusals, e.g. ``errors(404, 409, conflict="cannot_follow_self, blocked")``.

    ``descriptions`` name the codes by status word (``not_found``,
    ``conflict``, ``forbidden``...) for the reader of the schema.
    """
    words = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "unprocessable"}
    return {
        status: OpenApiResponse(
            _BAD_REQUEST if status == 400 else ErrorSerializer,
            description=descriptions.get(words.get(status, ""), _DESCRIPTIONS.get(status, "")),
        )
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "Invalid fields, or a malformed request.",
    404: "No such resource (or page).",
    409: "Refused: the current state does not allow it.",
}


class ApiSchema(AutoSchema):
    """Adds what every operation shares: the correlation id header in and
    out, ``Idempotency-Key`` on every POST, and the refusals any request
    may meet (bad credentials, missing permission, throttling, a malformed
    body, a reused key)."""

    def get_override_parameters(self):
        parameters = [
            OpenApiParameter(
                CORRELATION_HEADER,
                OpenApiTypes.UUID,
                OpenApiParameter.HEADER,
                description="Ties the request's commands and events together; a new one is made when absent.",
            ),
            OpenApiParameter(CORRELATION_HEADER, OpenApiTypes.UUID, OpenApiParameter.HEADER, response=True),
        ]
        if self.method == "POST":
            parameters += [
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    {"type": "string", "pattern": "^[ -~]{1,255}$"},
                    OpenApiParameter.HEADER,
                    description=(
                        "Makes the POST safe to retry: the same key with the same body replays the first "
                        "answer; with a different body it answers 422 idempotency_key_reused."
                    ),
                ),
                OpenApiParameter(
                    REPLAYED_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    response=True,
                    enum=["true"],
                    description="Present when the answer is the replay of an earlier one.",
                ),
            ]
        return super().get_override_parameters() + parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        common = {401: OpenApiResponse(ErrorSerializer, description="Missing or invalid credentials.")}
        if self._needs_permission():
            common[403] = OpenApiResponse(ErrorSerializer, description="Not allowed (staff only, or CSRF).")
        if self.method == "POST":
            common.update(errors(400, 422, unprocessable="idempotency_key_reused"))
        if self.method == "GET" and self._is_list_view() and self._get_paginator():
            common.update(errors(404))
        if self.view.get_throttles():
            common[429] = OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After.")
        for status, response in common.items():
            responses.setdefault(str(status), self._get_response_for_code(response, str(status), direction=direction))
        return dict(sorted(responses.items()))

    def _needs_permission(self) -> bool:
        return not all(isinstance(permission, permissions.AllowAny) for permission in self.view.get_permissions())
