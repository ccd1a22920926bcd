"""A small, lively demo shop that ``scripts/run`` seeds on an empty database.

A dozen people who follow each other (one of them blocks another), a shelf
of real books with their ISBNs and stock, and orders in every state: all
through the bus, so the events, the policies and the traces are the
product's own.

The demo logins' password is printed and documented, so like
``ensure_demo_staff`` (which this command runs first, for the staff login)
it acts only on the embedded SQLite file beside the code. Every demo
account shares one password hash, computed once per seeding: hashing is
slow on purpose and a dozen hashes would take seconds. A second run finds
the shop (the customer login registered by an earlier seeding) and adds
nothing.
"""

from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.commands import BlockAccount, FollowAccount, RegisterSeededAccount
from accounts.queries import account_id_for_username, account_summary
from accounts.values import Email, PasswordHash, Username
from catalog.commands import AddBook, RestockBook
from catalog.values import Isbn, Money
from messaging import bus
from messaging.operations.log import stored_events
from messaging.progress import progress
from orders.commands import CancelOrder, ConfirmOrder, PlaceOrder, ShipOrder
from orders.values import OrderLine

from .ensure_demo_staff import on_the_embedded_database

PASSWORD = "demo-password"
CUSTOMER = "ada"
STAFF = "admin"

# The customer login first: its registration is how a later run knows the shop.
PEOPLE = (
    "ada",
    "alan",
    "grace",
    "edsger",
    "barbara",
    "donald",
    "margaret",
    "ken",
    "dennis",
    "frances",
    "john",
    "radia",
)
FOLLOWS_AHEAD = 3  # each follows the next three of the list, round it
BLOCK = ("ken", "dennis")  # ken blocks dennis, which removes their follows

# Each with the ISBN-13 of a current paperback edition.
SHELF = (
    ("Middlemarch", "George Eliot", "9780141439549", "14.50"),
    ("Pride and Prejudice", "Jane Austen", "9780141439518", "9.99"),
    ("Moby-Dick", "Herman Melville", "9780142437247", "12.00"),
    ("War and Peace", "Leo Tolstoy", "9781400079988", "18.90"),
    ("The Left Hand of Darkness", "Ursula K. Le Guin", "9780441478125", "11.25"),
    ("One Hundred Years of Solitude", "Gabriel García Márquez", "9780060883287", "13.40"),
    ("Things Fall Apart", "Chinua Achebe", "9780385474542", "10.80"),
    ("Beloved", "Toni Morrison", "9781400033416", "12.60"),
    ("The Remains of the Day", "Kazuo Ishiguro", "9780679731726", "11.90"),
    ("Mrs Dalloway", "Virginia Woolf", "9780156628709", "8.75"),
    ("Invisible Cities", "Italo Calvino", "9780156453806", "10.20"),
    (
        "The Structure and Interpretation of Computer Programs",
        "Harold Abelson and Gerald Jay Sussman",
        "9780262510875",
        "45.00",
    ),
    # the book of the workshop story and of the examples (README, send_command --help)
    ("The Great Gatsby", "F. Scott Fitzgerald", "9780743273565", "12.99"),
)
# A line about each, for the catalog and the book's page.
DESCRIPTIONS = {
    "Middlemarch": "A provincial English town in the years before the Reform Act, and the marriages, "
    "ambitions and compromises of the people who live in it.",
    "Pride and Prejudice": "Elizabeth Bennet and Mr Darcy misjudge each other at first sight, "
    "and take a whole novel to find out how wrong they were.",
    "Moby-Dick": "Ishmael signs on to the whaler Pequod, whose captain is hunting one white whale across the oceans.",
    "War and Peace": "Russian families through Napoleon's invasion, from the ballrooms of St Petersburg "
    "to the field of Borodino.",
    "The Left Hand of Darkness": "An envoy comes alone to the winter planet Gethen, whose people are neither "
    "men nor women, to invite it into a league of worlds.",
    "One Hundred Years of Solitude": "Seven generations of the Buendía family and the town of Macondo, "
    "which they found, from its first day to its last.",
    "Things Fall Apart": "Okonkwo, a proud wrestler and farmer of an Igbo village, as missionaries and "
    "colonial rule arrive.",
    "Beloved": "In Ohio after the Civil War, a woman who escaped slavery is visited by the past she cannot leave.",
    "The Remains of the Day": "An English butler drives to the West Country and looks back on a life of "
    "service in a great house.",
    "Mrs Dalloway": "One June day in London as Clarissa Dalloway prepares a party, "
    "and a shell-shocked veteran walks the same streets.",
    "Invisible Cities": "Marco Polo describes to Kublai Khan the cities of his empire, "
    "each one stranger than the last.",
    "The Structure and Interpretation of Computer Programs": "The classic introduction to programming "
    "through Scheme: abstraction, state, interpreters and machines.",
    "The Great Gatsby": "Nick Carraway's summer on Long Island beside his mysterious neighbour, "
    "who throws lavish parties for one guest.",
}
RESTOCK = {"Middlemarch": 15, "Beloved": 5}

# (customer, books by their place on the shelf, what becomes of the order)
ORDERS = (
    ("ada", (0, 1), "SHIPPED"),
    ("ada", (4,), "CONFIRMED"),
    ("ada", (7,), "PENDING"),
    ("ada", (2,), "CANCELLED"),
    ("alan", (11,), "SHIPPED"),
    ("grace", (11, 10), "CONFIRMED"),
    ("edsger", (3,), "PENDING"),
    ("barbara", (5,), "CANCELLED"),
    ("donald", (11,), "SHIPPED"),
    ("margaret", (6, 8), "PENDING"),
    ("frances", (9,), "CONFIRMED"),
    ("radia", (1,), "CANCELLED"),
)


class Command(BaseCommand):
    help = (
        "On the embedded SQLite database only, seed a small demo shop (people, follows, a block, books, "
        "orders in every state) through the bus, once, and print a customer and a staff login."
    )

    def handle(self, *args, **options):
        if not on_the_embedded_database():
            self.stdout.write("No demo shop: this is not the embedded SQLite database.")
            return
        staff_id = self._staff()
        if _shop_exists():
            self.stdout.write(f"Demo shop: already there. Customer login: {CUSTOMER} (password as first printed)")
            return
        with progress(self.stderr) as display:
            self.bar = display.bar("demo shop", _commands(), unit="commands")
            people = self._people()
            self._graph(people)
            shelf = self._shelf(staff_id)
            self._orders(people, shelf, staff_id)
        self.stdout.write(
            f"Demo shop: {len(people)} people, {len(shelf)} books, {len(ORDERS)} orders. "
            f"Customer login: {CUSTOMER} / {PASSWORD}"
        )

    def _staff(self):
        """The demo staff login (``ensure_demo_staff``, which prints it), whose
        id confirms, ships and restocks; ``None`` when it refused (said on
        stderr): the shop itself acts then."""
        try:
            call_command("ensure_demo_staff", stdout=self.stdout)
        except CommandError as refusal:
            self.stderr.write(str(refusal))
            return None
        staff = account_summary(account_id_for_username(STAFF))
        return staff.account_id if staff.is_staff else None

    def _people(self) -> dict:
        """Register every demo person with one shared hash: usernames to ids."""
        password_hash = PasswordHash(make_password(PASSWORD))
        return {
            name: self._send(
                RegisterSeededAccount(
                    email=Email(f"{name}@example.com"), username=Username(name), password_hash=password_hash
                )
            ).account_id
            for name in PEOPLE
        }

    def _graph(self, people: dict) -> None:
        names = list(people)
        for index, name in enumerate(names):
            for ahead in range(1, FOLLOWS_AHEAD + 1):
                followee = names[(index + ahead) % len(names)]
                self._send(FollowAccount(follower_id=people[name], followee_id=people[followee], actor_id=people[name]))
        blocker, blocked = BLOCK
        self._send(BlockAccount(blocker_id=people[blocker], blocked_id=people[blocked], actor_id=people[blocker]))

    def _shelf(self, staff_id) -> list:
        """Add the books with their descriptions (their stock follows by a
        policy) and restock a few: their ids in shelf order."""
        shelf = []
        for title, author, isbn, price in SHELF:
            book = AddBook(
                title=title,
                author=author,
                isbn=Isbn(isbn),
                price=Money(Decimal(price)),
                description=DESCRIPTIONS[title],
                actor_id=staff_id,
            )
            added = self._send(book)
            shelf.append(added.book_id)
            if title in RESTOCK:
                self._send(RestockBook(book_id=added.book_id, quantity=RESTOCK[title], actor_id=staff_id))
        return shelf

    def _orders(self, people: dict, shelf: list, staff_id) -> None:
        for customer, books, state in ORDERS:
            lines = tuple(OrderLine(book_id=shelf[place], quantity=1) for place in books)
            order_id = self._send(PlaceOrder(items=lines, actor_id=people[customer])).order_id
            if state == "CANCELLED":
                self._send(CancelOrder(order_id=order_id, actor_id=people[customer]))
            if state in ("CONFIRMED", "SHIPPED"):
                self._send(ConfirmOrder(order_id=order_id, actor_id=staff_id))
            if state == "SHIPPED":
                self._send(ShipOrder(order_id=order_id, actor_id=staff_id))

    def _send(self, command):
        """Dispatch ``command``: its first event. A refusal is a mistake in
        the demo data, so it stops the seeding with the refusal's reason."""
        result = bus.dispatch(command)
        if result.rejection:
            raise CommandError(f"{command.type_name()} refused: {result.rejection.code}: {result.rejection.reason}")
        self.bar.advance()
        return result.events[0]


def _commands() -> int:
    """How many commands the seeding sends, for its progress."""
    steps = {"PENDING": 1, "CANCELLED": 2, "CONFIRMED": 2, "SHIPPED": 3}
    orders = sum(steps[state] for _, _, state in ORDERS)
    return len(PEOPLE) * (1 + FOLLOWS_AHEAD) + 1 + len(SHELF) + len(RESTOCK) + orders  # the 1: the block


def _shop_exists() -> bool:
    """Whether an earlier seeding registered the customer login (an account
    of that name registered otherwise is somebody else's, not the shop)."""
    try:
        customer_id = account_id_for_username(CUSTOMER)
    except LookupError:
        return False
    return (
        stored_events(event_type="AccountRegistered")
        .filter(command_type=RegisterSeededAccount.type_name(), payload__account_id=str(customer_id))
        .exists()
    )
