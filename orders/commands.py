"""What can be asked of the orders context. The customer placing an order,
and whoever confirms, ships or cancels one, is the command's ``actor_id``."""

from dataclasses import dataclass
from uuid import UUID

from messaging.messages import Command, PolicyCommand

from .values import OrderLine


@dataclass(frozen=True, kw_only=True)
class PlaceOrder(Command):
    """From the shell: ``items='[{"book_id": "...", "quantity": 2}]' --actor @alice``."""

    items: tuple[OrderLine, ...]


@dataclass(frozen=True, kw_only=True)
class ConfirmOrder(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class ShipOrder(Command):
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class CancelOrder(Command):
    """Given an actor, only the order's customer or a staff member may cancel;
    without one (the shell, an admin action) the shop itself cancels."""

    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class ExpireOrder(PolicyCommand):
    """An order nobody confirmed in time lapses (scheduled when the order is
    placed, dispatched by the relay when the deadline comes; confirming or
    cancelling the order cancels it). Not a cancellation: it only ever ends a PENDING order,
    so a confirmed one, which its customer may still cancel, never expires."""

    order_id: UUID
