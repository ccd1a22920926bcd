"""The bookshelf flow through Protean, the peer beside the pipeline and the floor.

Runs in its own virtualenv (``.venv-protean``, scripts/setup-protean), as a
subprocess ``bench.measure`` starts, never imported by the product:

    .venv-protean/bin/python bench/protean_flow.py <sqlite file> <flows per round> <rounds>

Prints one JSON line: commands/s over the rounds (the four top-level
commands of a flow, as on the other sides). The domain is the bookshelf
of Protean's tutorial grown to this flow: a book is added (an event
handler stocks its inventory), an order is placed (reserving a copy),
confirmed and shipped (each mailing the customer: a mail row, as the
pipeline's outbox records one). Aggregates live in Protean's SQLite
provider (SQLAlchemy) on a file; commands and events are processed
synchronously, in process.

Its events go to Protean's in-memory event store (its only other one is
Message DB, on PostgreSQL), which deep-copies all it holds for every
session: left to grow, each command would cost more than the one before.
The flow empties it after each flow (``_forget_events``), so Protean's
figure counts its SQLite writes with its events kept in memory, never
written: a bound below what it would cost with a durable store.
"""

import json
import logging
import sys
import time
from decimal import Decimal

from protean import Domain, handle
from protean.fields import Float, HasMany, Identifier, Integer, String, Text

domain = Domain(name="bookshelf")
domain.config["command_processing"] = "sync"
domain.config["event_processing"] = "sync"


@domain.aggregate
class Book:
    title: String(max_length=200, required=True)
    author: String(max_length=150, required=True)
    price: Float(required=True)


@domain.event(part_of=Book)
class BookAdded:
    book_id: Identifier(required=True)


@domain.aggregate
class Inventory:
    book_id: Identifier(required=True)
    on_hand: Integer(default=0)
    reserved: Integer(default=0)
    stocked: Integer(default=0)


@domain.entity(part_of="Order")
class OrderItem:
    book_id: Identifier(required=True)
    title: String(max_length=200, required=True)
    quantity: Integer(required=True)
    unit_price: Float(required=True)


@domain.aggregate
class Order:
    customer: String(max_length=150, required=True)
    email: String(max_length=254, required=True)
    status: String(max_length=20, default="PENDING")
    total: Float(required=True)
    items = HasMany(OrderItem)

    def confirm(self):
        if self.status != "PENDING":
            raise ValueError(f"order is {self.status}")
        self.status = "CONFIRMED"
        self.raise_(OrderConfirmed(order_id=self.id))

    def ship(self):
        if self.status != "CONFIRMED":
            raise ValueError(f"order is {self.status}")
        self.status = "SHIPPED"
        self.raise_(OrderShipped(order_id=self.id))


@domain.event(part_of=Order)
class OrderConfirmed:
    order_id: Identifier(required=True)


@domain.event(part_of=Order)
class OrderShipped:
    order_id: Identifier(required=True)


@domain.aggregate
class Mail:
    to: String(max_length=254, required=True)
    subject: String(max_length=200, required=True)
    body: Text(required=True)


@domain.command(part_of=Book)
class AddBook:
    title: String(max_length=200, required=True)
    author: String(max_length=150, required=True)
    price: Float(required=True)


@domain.command(part_of=Order)
class PlaceOrder:
    book_id: Identifier(required=True)
    customer: String(max_length=150, required=True)
    email: String(max_length=254, required=True)


@domain.command(part_of=Order)
class ConfirmOrder:
    order_id: Identifier(required=True)


@domain.command(part_of=Order)
class ShipOrder:
    order_id: Identifier(required=True)


@domain.command_handler(part_of=Book)
class BookHandler:
    @handle(AddBook)
    def add(self, command: AddBook):
        book = Book(title=command.title, author=command.author, price=command.price)
        book.raise_(BookAdded(book_id=book.id))
        domain.repository_for(Book).add(book)
        domain.repository_for(Inventory).add(Inventory(id=book.id, book_id=book.id))
        return book.id


@domain.event_handler(part_of=Inventory, stream_category="bookshelf::book")
class StockNewBook:
    @handle(BookAdded)
    def stock(self, event: BookAdded):
        inventories = domain.repository_for(Inventory)
        inventory = inventories.get(event.book_id)
        if not inventory.stocked:
            inventory.on_hand += 10
            inventory.stocked = 1
            inventories.add(inventory)


@domain.command_handler(part_of=Order)
class OrderHandler:
    @handle(PlaceOrder)
    def place(self, command: PlaceOrder):
        book = domain.repository_for(Book).get(command.book_id)
        inventories = domain.repository_for(Inventory)
        inventory = inventories.get(command.book_id)
        if inventory.on_hand - inventory.reserved < 1:
            raise ValueError("out of stock")
        inventory.reserved += 1
        inventories.add(inventory)
        order = Order(customer=command.customer, email=command.email, total=book.price)
        order.add_items(OrderItem(book_id=book.id, title=book.title, quantity=1, unit_price=book.price))
        domain.repository_for(Order).add(order)
        return order.id

    @handle(ConfirmOrder)
    def confirm(self, command: ConfirmOrder):
        orders = domain.repository_for(Order)
        order = orders.get(command.order_id)
        order.confirm()
        orders.add(order)

    @handle(ShipOrder)
    def ship(self, command: ShipOrder):
        orders = domain.repository_for(Order)
        order = orders.get(command.order_id)
        order.ship()
        orders.add(order)
        inventories = domain.repository_for(Inventory)
        for item in order.items:
            inventory = inventories.get(item.book_id)
            inventory.on_hand -= item.quantity
            inventory.reserved -= item.quantity
            inventories.add(inventory)


def _mail(order_id, what: str) -> None:
    order = domain.repository_for(Order).get(order_id)
    lines = [f"  {item.quantity} x {item.title}, {item.unit_price} each" for item in order.items]
    body = "\n".join([f"Hello {order.customer},", "", *lines, f"Total: {order.total}"])
    domain.repository_for(Mail).add(Mail(to=order.email, subject=f"Your order {order_id[:8]} is {what}", body=body))


@domain.event_handler(part_of=Mail, stream_category="bookshelf::order")
class MailCustomer:
    @handle(OrderConfirmed)
    def confirmed(self, event: OrderConfirmed):
        _mail(event.order_id, "confirmed")

    @handle(OrderShipped)
    def shipped(self, event: OrderShipped):
        _mail(event.order_id, "shipped")


def flow(n: int) -> int:
    book_id = domain.process(AddBook(title=f"Book {n}", author="Bench", price=float(Decimal("12.50"))))
    order_id = domain.process(PlaceOrder(book_id=book_id, customer="customer", email="customer@x.test"))
    domain.process(ConfirmOrder(order_id=order_id))
    domain.process(ShipOrder(order_id=order_id))
    _forget_events()
    return 4


def _forget_events() -> None:
    """Empty the in-memory event store, whose every session copies it whole."""
    domain.providers["memory"]._data_reset()


def main(path: str, flows_per_round: int, rounds: int) -> dict:
    logging.disable(logging.INFO)  # its access log at INFO, as the kernel's log is at WARNING on the other sides
    domain.config["databases"]["default"] = {"provider": "sqlite", "database_uri": f"sqlite:///{path}"}
    domain.init(traverse=False)
    with domain.domain_context():
        domain.providers["default"]._create_database_artifacts()
        for n in range(max(1, flows_per_round // 10)):
            flow(n)
        commands, started = 0, time.perf_counter()
        for _ in range(rounds):
            for n in range(flows_per_round):
                commands += flow(n)
        elapsed = time.perf_counter() - started
        mails = len(domain.repository_for(Mail)._dao.query.all().items)
    return {"commands_per_s": commands / elapsed, "mails": mails}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
