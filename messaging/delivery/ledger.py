"""What every delivery path shares: running a policy for an event, and
keeping the books of its attempts (a failure's retry time, the dead letter).

A delivery's attempt ends ``DONE`` (its effects committed with its mark),
``FAILED`` (retried after ``retry_delay``), ``DEAD`` (after
``MESSAGING_MAX_ATTEMPTS`` attempts, or at once for a ``Permanent`` error)
or, for an outside effect that had nothing to do, ``SKIPPED``.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db.models.functions import Now

from .. import telemetry
from ..ambient import Cause, caused_by, correlated
from ..conf import conf
from ..messages import Event
from ..models import Delivery
from ..refusal_rule import Undo
from ..registry import registry

logger = logging.getLogger("messaging.delivery")

Dispatch = Callable[..., object]
"""``bus.dispatch``: ``dispatch(command, undo=...)``; a delivery passes the
``Undo`` its run allows (``refusal_rule``)."""

# A delivery the database aborted for a deadlock or a serialization failure
# runs again at once, uncounted, this many times before the conflict is
# recorded as a failed attempt like any other error.
CONFLICT_RETRIES = 3


class Permanent(Exception):
    """Raised by an outside effect when trying again cannot help (the mail
    server refused the address): the delivery is dead-lettered at once."""


class OutcomeUnknown(Exception):
    """Raised by an outside effect that cannot tell whether it took effect
    (the mail server took the mail, then did not answer within its
    timeout: it may have delivered it). Not retried as a failure is: once,
    after ``MESSAGING_UNKNOWN_OUTCOME_RETRY_SECONDS`` (the same mail, with
    the same Message-ID), then, unknown again, parked as a dead letter for
    an operator, who checks the other side before retrying or discarding.
    Never a flood of copies."""


@dataclass(frozen=True)
class Skipped:
    """Returned by an outside effect that had nothing to do (a mail to a
    person forgotten since it was queued): its delivery is settled as
    ``SKIPPED`` with ``reason``, neither done nor failed. The reason names
    people by id only: it is stored and logged."""

    reason: str


def apply(event: Event, policy_name: str, dispatch: Dispatch, undo: Undo) -> None:
    """Run the policy and dispatch its commands, as consequences of
    ``event``, their refusals undone as ``undo`` says."""
    policy = registry.policy(policy_name)
    with caused_by(Cause(event.correlation_id, event.event_id, policy.name)):
        for command in policy(event) or ():
            dispatch(command, undo=undo)
    logger.debug("delivered %s to %s", event.type_name(), policy_name)


def record_failure(delivery: Delivery, event_type: str, error: Exception) -> None:
    """Mark the attempt (already counted) failed, or dead after the last one
    or a permanent failure. The retry time is an expression (the database's
    now plus the backoff), written by the caller's save or update."""
    previous = delivery.last_error
    delivery.last_error = f"{type(error).__name__}: {error}"
    delivery.status = status_after(delivery.attempts, error, previous)
    if delivery.status == Delivery.Status.DEAD and isinstance(error, OutcomeUnknown):
        delivery.last_error += "; unknown twice, parked: check the other side before retrying or discarding"
    facts = {
        "policy": delivery.policy,
        "event_type": event_type,
        "attempts": delivery.attempts,
        "outcome": str(delivery.status),
        "error": delivery.last_error,
    }
    if delivery.status == Delivery.Status.DEAD:
        logger.error(
            "dead-lettered %s to %s after %d attempt(s): %s",
            event_type,
            delivery.policy,
            delivery.attempts,
            delivery.last_error,
            extra=facts,
        )
    else:
        backoff = (
            conf.MESSAGING_UNKNOWN_OUTCOME_RETRY_SECONDS
            if isinstance(error, OutcomeUnknown)
            else retry_delay(delivery.attempts)
        )
        # by the database's clock: the host that records the failure and the
        # worker that retries it may disagree on the time
        delivery.next_attempt_at = Now() + timedelta(seconds=backoff)
        logger.warning(
            "delivery of %s to %s failed (attempt %d, retry in %.0fs): %s",
            event_type,
            delivery.policy,
            delivery.attempts,
            backoff,
            delivery.last_error,
            extra=facts | {"retry_in_s": backoff},
        )


def status_after(attempts: int, error: Exception, previous_error: str = "") -> str:
    """A delivery's status after its ``attempts``-th attempt failed with
    ``error`` (``previous_error``: what the attempt before recorded)."""
    if attempts >= conf.MESSAGING_MAX_ATTEMPTS or isinstance(error, Permanent):
        return Delivery.Status.DEAD
    if isinstance(error, OutcomeUnknown) and previous_error.startswith(f"{OutcomeUnknown.__name__}:"):
        return Delivery.Status.DEAD
    return Delivery.Status.FAILED


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the
    backoff deliveries and scheduled commands share."""
    return conf.MESSAGING_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def since(started: float) -> float:
    """Milliseconds since ``started`` (``time.perf_counter``)."""
    return (time.perf_counter() - started) * 1000


@contextmanager
def running(delivery_id: int, event_type: str, policy: str, correlation_id, event_id) -> Iterator:
    """What a delivery runs in: its event's correlation id (log lines), and its span."""
    with (
        correlated(correlation_id),
        telemetry.delivering(delivery_id, event_type, policy, correlation_id, event_id) as span,
    ):
        yield span
