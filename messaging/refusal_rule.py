"""What a refused command leaves behind, on every path: the one rule.

Nothing a refusing handler wrote stays, and its rejection is recorded like
any other fact. How its writes are undone is the ``Undo`` its dispatcher
passes to ``bus.dispatch``; ``run`` applies it. See docs/architecture.md,
"The kernel's floors" (the refusal rule).
"""

import enum
from collections.abc import Callable

from django.db import transaction

from .messages import Command, Event, Refused, Rejection


class Undo(enum.Enum):
    """How a refused handler's writes are undone, chosen by whoever dispatches."""

    TRANSACTION = "transaction"  # an interface's command: roll back whole, record in a second transaction
    SAVEPOINT = "savepoint"  # a policy's command: roll back to its savepoint, the delivery goes on
    DELIVERY = "delivery"  # no savepoints (two round trips each): a refusal runs the delivery again with them


class RolledBack(Exception):
    """A top-level handler refused: its transaction rolls back whole and the
    bus records ``rejection`` in a new one, timed from ``started``."""

    def __init__(self, rejection: Rejection, started: float):
        super().__init__(rejection.code)
        self.rejection, self.started = rejection, started


class RunWithSavepoints(BaseException):  # noqa: N818 (a signal, not an error)
    """A policy's command refused in a delivery run without savepoints: the
    delivery's transaction rolls back and the delivery runs again with them.

    A ``BaseException``, like ``GeneratorExit``: it passes through every
    ``except Exception`` on its way (the bus's log layer would report it as
    a failure) to the delivery, which alone handles it."""


def run(handler: Callable[[Command], object], command: Command, undo: Undo, started: float) -> list[Event]:
    """The events ``handler`` returns for ``command``; when it refuses, what
    ``undo`` says: the rejection to record here (``SAVEPOINT``), or the
    signal to undo more (``RolledBack``, ``RunWithSavepoints``)."""
    if undo is Undo.SAVEPOINT:
        try:
            with transaction.atomic():
                return list(handler(command) or ())
        except Refused as refusal:
            return [refusal.rejection]
    try:
        return list(handler(command) or ())
    except Refused as refusal:
        if undo is Undo.TRANSACTION:
            raise RolledBack(refusal.rejection, started) from None
        raise RunWithSavepoints(command.type_name()) from None
