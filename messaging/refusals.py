"""Refusal codes: each declared once, by the context that owns it, with the
HTTP status an answer gives it and a default sentence for people.

A context declares its codes as a subclass of ``Refusal`` in its own
``refusals.py`` and registers it from its ``wiring.py``
(``registry.register_refusals``), so the registry knows every code and a code
declared twice is a wiring error. Handlers refuse with a member:
``raise FollowRejected.refuse(AccountRefusal.BLOCKED, "...")``.
"""

from enum import StrEnum


class Refusal(StrEnum):
    """The base of every context's refusal codes.

    A member *is* its code (a ``str``), so a rejection carries it as it always
    did and reads back from the event store as plain text, equal to the
    member. Each member is declared as ``code, status, message`` and
    optionally ``page_message``:

    - ``status``: the HTTP status of an answer refused with it;
    - ``message``: the reason a refusal gives when its handler gives none;
    - ``page_message``: said on a page instead of the reason, when the reason
      speaks of things the person at the page never saw (an idempotency key).
    """

    status: int
    message: str
    page_message: str | None

    def __new__(cls, code: str, status: int, message: str, page_message: str | None = None):
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.message = message
        member.page_message = page_message
        return member


class KernelRefusal(Refusal):
    """What the bus and the idempotency layer refuse, whatever the command."""

    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        422,
        "This idempotency key was already used for a different request.",
        "That form was already used for something else. Please try again.",
    )
    # Nobody may send it: only a policy does.
    POLICY_ONLY = "policy_only", 403, "This command is issued only by a policy, in reaction to an event."
    # An operator's cancellation of a schedule that already ran or was cancelled.
    NOT_SCHEDULED = "not_scheduled", 409, "No schedule of that key is waiting: it already ran or was cancelled."
    # An operator's retry or discard of a delivery that is not a dead letter.
    NOT_DEAD_LETTERED = "not_dead_lettered", 409, "Only a dead-lettered delivery can be discarded."
    # An operator's retry now of a delivery neither failed nor dead-lettered (or in a worker's hands).
    NOT_RETRYABLE = "not_retryable", 409, "Only a failed or dead-lettered delivery can be retried now."
    # An operator's skip of a delivery already settled (or in a worker's hands).
    NOT_SKIPPABLE = "not_skippable", 409, "Only a delivery still waiting (pending, failed or dead) can be skipped."
    # An operator's skip without a reason: skipping is a decision, recorded with its why.
    REASON_REQUIRED = "reason_required", 400, "Say why: a skip is recorded with its reason."
