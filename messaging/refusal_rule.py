"""What a refused command leaves behind, on every path: the one rule.

A handler refuses by raising ``Refused``. Nothing it wrote may stay, and
its rejection is recorded like any other fact. How its writes are undone
depends on where the command runs, which whoever dispatches it says
(``Undo``, a parameter of ``bus.dispatch``; ``run`` applies it):

- ``TRANSACTION``: a command from an interface owns its transaction. The
  handler runs with no savepoint (none is paid for on every command); a
  refusal rolls the transaction back whole (``RolledBack``) and the bus
  records the rejection in a second one.
- ``SAVEPOINT``: a policy's command, in a delivery's transaction. The
  handler runs in a savepoint; a refusal rolls back to it and is recorded in
  the delivery's transaction, which goes on.
- ``DELIVERY``: a policy's command in a delivery run optimistically, with no
  savepoints (each costs two round trips). A refusal can only be undone by
  the delivery's whole transaction: ``RunWithSavepoints`` takes it there,
  and the delivery runs again with ``SAVEPOINT``, where the refusal is
  recorded. The abandoned run records no span, no latency and no log line.
"""

import enum
from collections.abc import Callable

from django.db import transaction

from .messages import Command, Event, Refused, Rejection


class Undo(enum.Enum):
    """How a refused handler's writes are undone (see the module)."""

    TRANSACTION = "transaction"
    SAVEPOINT = "savepoint"
    DELIVERY = "delivery"


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
