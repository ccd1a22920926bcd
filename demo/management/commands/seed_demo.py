"""Fill the database with demo data: accounts, follows, books, orders.

Through the bus by default, command by command, as the product would.
``--bulk`` writes the accounts and follows in batches instead: the same
rows (accounts, follows, their counts) and the same events, stored with
their deliveries recorded done and no projector run, since the batch writes
the counts itself. Books and orders always go through the bus.

Every account gets one password, hashed once: the published
``demo-password`` on the embedded SQLite file only (``scripts/run``'s
database, on the developer's machine); on any other database a random one,
printed once and stored nowhere but hashed, so that seeding a staging or
production database never opens accounts to a password anyone can read.
The addresses (``@example.com``) are taken as verified: nobody reads them.

Seeding keeps the rules either way: the follows are drawn so that nobody
follows more than ``FOLLOW_LIMIT`` (the accounts are new, so no block and no
deactivation stands between them), and whatever the bus refuses (a sold-out
book) is counted and reported in the summary, which says what was made.
"""

import random
import secrets
import uuid
from collections import Counter, defaultdict
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import projections
from accounts.commands import FollowAccount, RegisterSeededAccount
from accounts.events import AccountFollowed, AccountRegistered
from accounts.models import Account, AccountStats, Follow
from accounts.values import Email, PasswordHash, Username
from catalog.commands import AddBook
from catalog.values import Money
from demo.management.commands.ensure_demo_staff import on_the_embedded_database
from messaging import bus, sql, store
from messaging.progress import progress
from orders.commands import PlaceOrder
from orders.values import OrderLine

PASSWORD = "demo-password"  # published: on the embedded demo database only
BATCH = 1000
FOLLOWS_BATCH = 10_000  # COPY streams them: a batch costs no statement per row to build


def seeding_password() -> str:
    """``PASSWORD`` on the embedded demo database; a random one anywhere else."""
    return PASSWORD if on_the_embedded_database() else secrets.token_urlsafe(12)


class Command(BaseCommand):
    help = (
        "Seed demo accounts, follows, books and orders (through the bus; --bulk for large volumes). "
        "Every account's password is demo-password on the embedded SQLite file, and a random one, "
        "printed once, on any other database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=100)
        parser.add_argument("--follows", type=int, default=500, help="in all, between random accounts")
        parser.add_argument("--books", type=int, default=20)
        parser.add_argument("--orders", type=int, default=50)
        parser.add_argument(
            "--bulk", action="store_true", help="accounts and follows in batches, not command by command"
        )
        parser.add_argument("--seed", type=int, default=1, help="of the random pairs, so a run can be repeated")

    def handle(self, *args, accounts, follows, books, orders, bulk, seed, **options):
        rng = random.Random(seed)
        self.refused = Counter()  # (what, code) -> how many the bus refused
        tag = uuid.uuid4().hex[:6]
        names = [f"demo_{tag}_{n}" for n in range(accounts)]
        password = seeding_password()
        self.password_hash = PasswordHash(make_password(password))  # once: hashing is slow on purpose
        seed_accounts = self._accounts_in_bulk if bulk else self._accounts_by_bus
        with progress(self.stderr) as self.display:
            ids = seed_accounts(names)
            pairs = _distinct_pairs(rng, ids, follows, limit=settings.FOLLOW_LIMIT)
            followed = (self._follows_in_bulk if bulk else self._follows_by_bus)(pairs)
            book_ids = self._books(books)
            placed = self._orders(rng, ids, book_ids, orders)
        summary = f"seeded {len(ids)} accounts, {followed} follows, {len(book_ids)} books, {placed} orders"
        if len(pairs) < follows:
            limit = settings.FOLLOW_LIMIT
            summary += f" (of {follows} follows asked, {len(pairs)} fit {len(ids)} accounts under FOLLOW_LIMIT={limit})"
        if self.refused:
            refusals = ", ".join(f"{count} {what} ({code})" for (what, code), count in sorted(self.refused.items()))
            summary += f"; refused: {refusals}"
        self.stdout.write(summary)
        if ids and password != PASSWORD:
            self.stdout.write(f"Password of every seeded account (printed this once, stored only hashed): {password}")

    def _send(self, what: str, command):
        """Dispatch ``command``: its first event, or ``None`` when the bus
        refused it (counted under ``what`` and the refusal's code)."""
        result = bus.dispatch(command)
        if result.rejection:
            self.refused[what, result.rejection.code] += 1
            return None
        return result.events[0]

    def _accounts_by_bus(self, names: list[str]) -> list[uuid.UUID]:
        bar, ids = self.display.bar("accounts", len(names), unit="accounts"), []
        for name in names:
            if registered := self._send("accounts", _register(name, self.password_hash)):
                ids.append(registered.account_id)
            bar.advance()
        return ids

    def _accounts_in_bulk(self, names: list[str]) -> list[uuid.UUID]:
        bar, ids, password, now = (
            self.display.bar("accounts", len(names), unit="accounts"),
            [],
            self.password_hash.value,
            timezone.now(),
        )
        for start in range(0, len(names), BATCH):
            batch = [(uuid.uuid4(), name) for name in names[start : start + BATCH]]
            with transaction.atomic():
                Account.objects.bulk_create(
                    Account(id=pk, username=name, email=f"{name}@example.com", password=password, email_verified_at=now)
                    for pk, name in batch
                )
                AccountStats.objects.bulk_create(AccountStats(account_id=pk) for pk, _ in batch)
                store.append_applied(
                    [
                        (
                            _register(name, self.password_hash),
                            AccountRegistered(account_id=pk, email=f"{name}@example.com", username=name),
                        )
                        for pk, name in batch
                    ]
                )
            ids += [pk for pk, _ in batch]
            bar.advance(len(batch))
        return ids

    def _follows_by_bus(self, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> int:
        bar, followed = self.display.bar("follows", len(pairs), unit="follows"), 0
        for follower, followee in pairs:
            followed += self._send("follows", FollowAccount(follower_id=follower, followee_id=followee)) is not None
            bar.advance()
        return followed

    def _follows_in_bulk(self, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> int:
        """Write the follows and their events in batches (``sql.copy``: COPY
        on PostgreSQL); the counts move once at the end, by what each account
        gained (``projections.move_counts``: one UPDATE per distinct gain),
        not one projector run per follow."""
        bar, now = self.display.bar("follows", len(pairs), unit="follows"), timezone.now()
        gained = defaultdict(lambda: [0, 0])  # account -> [followers, following]
        for start in range(0, len(pairs), FOLLOWS_BATCH):
            batch = pairs[start : start + FOLLOWS_BATCH]
            with transaction.atomic():
                sql.copy(Follow, [{"follower": a, "followee": b, "created_at": now} for a, b in batch])
                store.append_applied(
                    [
                        (FollowAccount(follower_id=a, followee_id=b), AccountFollowed(follower_id=a, followee_id=b))
                        for a, b in batch
                    ]
                )
            for a, b in batch:
                gained[a][1] += 1
                gained[b][0] += 1
            bar.advance(len(batch))
        with transaction.atomic():
            projections.move_counts({account_id: tuple(gain) for account_id, gain in gained.items()})
        return len(pairs)

    def _books(self, count: int) -> list[uuid.UUID]:
        bar, ids = self.display.bar("books", count, unit="books"), []
        for n in range(count):
            command = AddBook(title=f"Demo book {n}", author="Demo", price=Money(Decimal("9.99")))
            if added := self._send("books", command):
                ids.append(added.book_id)
            bar.advance()
        return ids

    def _orders(self, rng: random.Random, customers: list, books: list, count: int) -> int:
        """Place ``count`` orders of one copy (none without customers or books);
        how many were placed: a sold-out book is refused."""
        if not customers or not books:
            return 0
        bar, placed = self.display.bar("orders", count, unit="orders"), 0
        for _ in range(count):
            line = OrderLine(book_id=rng.choice(books), quantity=1)
            placed += self._send("orders", PlaceOrder(items=(line,), actor_id=rng.choice(customers))) is not None
            bar.advance()
        return placed


def _register(name: str, password_hash: PasswordHash) -> RegisterSeededAccount:
    return RegisterSeededAccount(
        email=Email(f"{name}@example.com"), username=Username(name), password_hash=password_hash
    )


def _distinct_pairs(rng: random.Random, ids: list, count: int, *, limit: int) -> list[tuple]:
    """``count`` random (follower, followee) pairs, none twice, nobody following
    themselves nor more than ``limit`` accounts (``FOLLOW_LIMIT``, which
    ``FollowAccount`` enforces): as many as those rules allow."""
    count = min(count, len(ids) * max(0, min(limit, len(ids) - 1)))
    pairs, following = set(), Counter()
    # Followers with room left; one that reaches the limit is swapped out in O(1).
    room, slot = list(ids), {account_id: n for n, account_id in enumerate(ids)}
    while len(pairs) < count:
        a, b = rng.choice(room), rng.choice(ids)
        if a == b or (a, b) in pairs:
            continue
        pairs.add((a, b))
        following[a] += 1
        if following[a] == limit:
            last = room.pop()
            if last != a:
                room[slot[a]], slot[last] = last, slot[a]
    return sorted(pairs, key=lambda pair: rng.random())
