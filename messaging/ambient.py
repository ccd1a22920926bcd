"""What the current thread is doing, for the bus and the log lines.

A policy's commands inherit the correlation id of the event that set them
off and name that event as their cause; the delivery sets ``current_cause``
while a policy runs and the bus reads it, so policies need not thread
metadata through by hand.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Cause:
    correlation_id: UUID
    event_id: UUID
    policy: str


current_cause: ContextVar[Cause | None] = ContextVar("current_cause", default=None)
held_appends: ContextVar = ContextVar("held_appends", default=None)
"""The events a relay batch holds back to write in one INSERT (``store``),
flushed by ``StoredEvent.objects`` before anything reads the log."""
current_correlation_id: ContextVar[UUID | None] = ContextVar("current_correlation_id", default=None)
current_client_correlation_id: ContextVar[str | None] = ContextVar("current_client_correlation_id", default=None)
"""The id a client sent with its request, if any: logged beside ours, never used as it."""
signed_in_actor: ContextVar[object | None] = ContextVar("signed_in_actor", default=None)
"""The account row an interface has just read to authenticate the request
it serves (``signed_in``): a handler of that request's command may judge
it by its own rules instead of reading it again. Only the row is handed
over, never a verdict on it."""


@contextmanager
def caused_by(cause: Cause):
    """Within this block, dispatched commands are consequences of ``cause``."""
    token = current_cause.set(cause)
    try:
        yield
    finally:
        current_cause.reset(token)


@contextmanager
def correlated(correlation_id: UUID, *, client_id: str | None = None):
    """Within this block, log lines carry ``correlation_id``, and the id the
    request's client sent (``client_id``) beside it; a block without one
    (a command inside the request) keeps the request's."""
    token = current_correlation_id.set(correlation_id)
    client_token = current_client_correlation_id.set(client_id) if client_id is not None else None
    try:
        yield
    finally:
        if client_token is not None:
            current_client_correlation_id.reset(client_token)
        current_correlation_id.reset(token)


@contextmanager
def signed_in(account: object | None):
    """Within this block, ``account`` is the row the interface has just read
    to authenticate the request (``None``: nobody)."""
    token = signed_in_actor.set(account)
    try:
        yield
    finally:
        signed_in_actor.reset(token)
