"""Running a command for an API request: the actor from authentication, the
correlation id from the request, and the ``Idempotency-Key`` header, with
the first answer replayed to a repeat."""

import dataclasses
import json
import re
from collections.abc import Callable

from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from messaging import personal
from messaging.ambient import signed_in
from messaging.bus import dispatch
from messaging.messages import Command, IdempotencyKeyReused, Result

from . import http_idempotency
from .clients import client_address
from .errors import refused

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")

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
      which do not exist before the commit. The personal data in it (what
      its serializers marked ``PersonalText``) is stored sealed for its
      person, and reads as a placeholder once they are forgotten. Storing it is first-writer-wins
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
    # Authentication has just read the actor's row: a handler may judge it instead of reading it again.
    with signed_in(request.user if actor_id is not None else None):
        return _execute(request, command, key, actor_id, render)


def _execute(request, command: Command, key: str | None, actor_id, render: Render) -> Response:
    if key is None:
        return _answer(dispatch(command), render)

    # No lookup of a stored answer first: the bus reads the key in the command's transaction anyway, and
    # only a repeat (replayed) or a reuse (refused) has an answer to look for. One read fewer for every new key.
    fingerprint = _fingerprint(request)
    result = dispatch(command)
    if result.rejection and result.rejection.code == "idempotency_key_reused":
        return refused(result.rejection)
    if not result.replayed:
        response = _answer(result, render)
        stored, mine = _store(actor_id, key, fingerprint, response)
        if mine:
            return response
    else:
        stored = http_idempotency.await_response(actor_id, key, seconds=settings.API_IDEMPOTENCY_WAIT_SECONDS)
        if stored is None:
            stored, _ = _store(actor_id, key, fingerprint, _answer(result, render))
    if stored.request_fingerprint != fingerprint:
        return refused(IdempotencyKeyReused.now())
    return Response(
        personal.open_answer(json.loads(stored.body)), status=stored.status, headers={REPLAYED_HEADER: "true"}
    )


def answered_once(request, answer: Callable[[], Response]) -> Response:
    """Answer a request that runs several commands (an operator's operation
    in batches), honouring its ``Idempotency-Key`` as ``execute`` does for
    one command: a repeat of the same request gets the first answer back
    (``Idempotent-Replayed: true``), another request with the key 422. A
    repeat racing the first, before its answer is stored, runs again: what
    it runs must be safe to repeat (an operation acts only on the rows
    still eligible)."""
    actor_id = request.user.pk if request.user.is_authenticated else None
    key = _idempotency_key(request, actor_id)
    if key is None:
        return answer()
    fingerprint = _fingerprint(request)
    stored = http_idempotency.stored_response(actor_id, key)
    if stored is None:
        response = answer()
        stored, mine = _store(actor_id, key, fingerprint, response)
        if mine:
            return response
    if stored.request_fingerprint != fingerprint:
        return refused(IdempotencyKeyReused.now())
    return Response(
        personal.open_answer(json.loads(stored.body)), status=stored.status, headers={REPLAYED_HEADER: "true"}
    )


def _answer(result: Result, render: Render) -> Response:
    return refused(result.rejection) if result.rejection else render(result)


def _store(actor_id, key: str, fingerprint: str, response: Response):
    return http_idempotency.store_response(
        actor_id=actor_id,
        key=key,
        request_fingerprint=fingerprint,
        status=response.status_code,
        body=JSONRenderer().render(personal.seal_answer(response.data)).decode(),
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
    # The salt keeps its first module's name, so stored answers still match.
    return salted_hmac("config.api.idempotency", canonical, algorithm="sha256").hexdigest()
