"""The schema conventions that document the HTTP edge: the error shape, the
headers every operation shares, and the refusals any request may meet."""

from collections.abc import Iterable

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import permissions, serializers

from messaging.refusals import KernelRefusal, Refusal

from .api_commands import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from .http import CORRELATION_HEADER


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: a stable code clients can match on, a
    sentence for people, and for invalid input (code invalid) the messages
    of each invalid field."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="Only for code invalid: each invalid field (or header) names its messages, nested as the input is.",
    )


def errors(*statuses: int, refusals: Iterable[Refusal] = (), **descriptions: str) -> dict[int, OpenApiResponse]:
    """Schema entries for refusals, e.g. ``errors(404, refusals=[AccountRefusal.BLOCKED])``.

    Each refusal code is listed under the status its declaration gives it,
    so the schema says what the answers say. ``descriptions`` replace the
    default words of a status (``bad_request``, ``not_found``, ``conflict``,
    ``forbidden``...), which come before the codes.
    """
    codes: dict[int, list[str]] = {}
    for refusal in refusals:
        codes.setdefault(refusal.status, []).append(str(refusal))
    words = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict", 422: "unprocessable"}
    entries = {}
    for status in sorted({*statuses, *codes}):
        said = descriptions.get(words.get(status, ""), _DESCRIPTIONS.get(status, ""))
        listed = ", ".join(codes.get(status, []))
        description = f"{said} Codes: {listed}.".strip() if listed else said
        entries[status] = OpenApiResponse(ErrorSerializer, description=description)
    return entries


_DESCRIPTIONS = {
    400: "Invalid fields (code invalid, with fields), or a malformed request.",
    404: "No such resource (or page).",
    409: "Refused: the current state does not allow it.",
    422: "This Idempotency-Key came with a different request.",
    429: "Too many requests (or failed password checks) from your address; see Retry-After.",
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
            common.update(errors(400, refusals=[KernelRefusal.IDEMPOTENCY_KEY_REUSED]))
        if self.method == "GET" and self._is_list_view() and self._get_paginator():
            common.update(errors(404))
        if self.view.get_throttles():
            common[429] = OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After.")
        for status, response in common.items():
            responses.setdefault(str(status), self._get_response_for_code(response, str(status), direction=direction))
        return dict(sorted(responses.items()))

    def _needs_permission(self) -> bool:
        return not all(isinstance(permission, permissions.AllowAny) for permission in self.view.get_permissions())


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <token>`` as OpenAPI's own HTTP bearer scheme
    (``tokenAuth`` stays ``Token <token>``)."""

    target_class = "interfaces.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
