"""A backup restored (docs/operations.md, "Backing up and restoring"): the
shop is dumped with work in flight (deliveries pending, mails queued, one
mail held by a worker that died with the old server), restored into a new
PostgreSQL cluster, and the product pointed at it finishes that work once:
every mail sent once, no effect twice, every rule holding."""

import os
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db.models.functions import Now
from django.utils import timezone

from accounts.commands import ForgetAccount, RegisterAccount, VerifyEmail
from accounts.events import AccountRegistered
from accounts.policies import VERIFICATION_MAIL
from accounts.values import Email, Password, Username
from catalog.commands import AddBook
from catalog.values import Money
from messaging import bus
from messaging.features.outbox import SENDING
from messaging.models import Delivery
from orders.commands import ConfirmOrder, ShipOrder
from tests.support.pg_cluster import server_binaries, throwaway_cluster
from tests.support.smtp import mail_server
from tests.support.stock import place
from tests.support.subprocesses import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HELD_FOR = 3  # seconds the dead worker's lease on a mail still runs after the dump


def relay(*options):
    with open(os.devnull, "w") as devnull:
        call_command("relay_events", *options, stdout=devnull)


def customer(name: str):
    """A customer who may order: registered, then verified (the mailed link's step)."""
    result = bus.dispatch(
        RegisterAccount(
            email=Email(f"{name}@example.com"), username=Username(name), password=Password("a long secret 1")
        )
    )
    (registered,) = [event for event in result.events if isinstance(event, AccountRegistered)]
    bus.dispatch(VerifyEmail(account_id=registered.account_id))
    return registered.account_id


def book(title: str):
    (added,) = bus.dispatch(AddBook(title=title, author="A. Writer", price=Money.from_primitive("9.50"))).events
    return added.book_id


def order(customer_id, book_id):
    class Buyer:  # what ``place`` needs of a customer
        pk = customer_id

    class Copy:
        pk = book_id

    (placed, *_) = bus.dispatch(place(Buyer, (Copy, 1))).events
    return placed.order_id


def manage(url: str, smtp_port: int, *arguments) -> subprocess.CompletedProcess:
    """Run ``manage.py`` as the product does, on the restored database."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=django_settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "MESSAGING_LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def restored_from_a_dump(tmp_path):
    """Dump the test's database as docs/operations.md says, restore it into a
    new cluster, and yield that cluster's DATABASE_URL."""
    pg_bin = server_binaries()
    dump = tmp_path / "shop.dump"
    subprocess.run([str(pg_bin / "pg_dump"), "--format=custom", f"--file={dump}", database_url()], check=True)
    with throwaway_cluster() as restored:
        subprocess.run(
            [str(pg_bin / "pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
            check=True,
        )
        yield restored


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


def test_a_dump_restored_into_a_new_cluster_resumes_its_deliveries_and_doubles_nothing(settings, tmp_path):
    settings.MESSAGING_DELIVER_ON_COMMIT = False  # the work waits for the relay, as behind a busy one
    with mail_server() as smtp:
        settings.MAILERS = smtp.mailers(timeout=5)

        # given: a shop whose first orders were confirmed and their mails sent
        people = [customer(f"reader{i}") for i in range(4)]
        books = [book(f"Title {i}") for i in range(3)]
        relay()
        orders = [order(person, books[i % 3]) for i, person in enumerate(people)]
        for placed in orders[:2]:
            bus.dispatch(ConfirmOrder(order_id=placed))
        relay()
        sent_before = len(smtp.accepted)
        assert sent_before == 2

        # and work in flight: an order confirmed, one shipped, a book added, not yet
        # delivered; their mails queued but not sent; one of those held by a worker
        bus.dispatch(ConfirmOrder(order_id=orders[2]))
        bus.dispatch(ShipOrder(order_id=orders[0]))
        relay("--only", "database")
        bus.dispatch(ConfirmOrder(order_id=orders[3]))
        late_book = book("Added late")
        queued = Delivery.objects.filter(policy=SENDING, status=Delivery.Status.PENDING)
        assert queued.count() == 2
        held = queued.first()
        Delivery.objects.filter(pk=held.pk).update(
            lease=uuid4(), attempts=1, next_attempt_at=Now() + timedelta(seconds=HELD_FOR)
        )
        in_flight = Delivery.objects.filter(status__in=Delivery.OPEN).count()
        assert in_flight == 4  # two mails to send, a confirmation to queue, a book to stock

        # when: the database is dumped, and restored into a new cluster
        dumped_at = time.monotonic()
        with restored_from_a_dump(tmp_path) as restored:
            # and the product runs on it: a relay after the dead worker's lease ran out
            time.sleep(max(0.0, HELD_FOR - (time.monotonic() - dumped_at)) + 0.5)
            drained = manage(restored, smtp.port, "relay_events")
            assert drained.returncode == 0, drained.stderr
            # and new work goes on: the last order ships
            shipped = manage(restored, smtp.port, "send_command", "ShipOrder", f"order_id={orders[3]}")
            assert shipped.returncode == 0, shipped.stderr
            assert manage(restored, smtp.port, "relay_events").returncode == 0
            invariants = manage(restored, smtp.port, "check_invariants")

            deliveries = dict(rows(restored, "SELECT status, count(*) FROM messaging_delivery GROUP BY status"))
            mails = rows(
                restored,
                "SELECT payload->>'message_id', payload->>'renderer', payload->>'about' "
                "FROM messaging_storedevent WHERE type = 'MailQueued'",
            )
            stocked = rows(restored, "SELECT count(*) FROM messaging_storedevent WHERE type = 'BookStocked'")
            on_hand = rows(restored, f"SELECT on_hand FROM catalog_inventory WHERE book_id = '{late_book.hex}'")

    # then: every rule holds on the restored database
    assert invariants.returncode == 0, invariants.stdout + invariants.stderr
    # and every delivery ended, none dead (skipped: the links of addresses verified before they were mailed)
    assert set(deliveries) <= {"done", "skipped"} and deliveries["done"], deliveries
    # and each mail the shop queued went out once, with its own Message-ID: the
    # two sent before the dump were not sent again
    # (the verification links were queued, then left unsent: the addresses were verified by then)
    mails = [mail for mail in mails if mail[1] != VERIFICATION_MAIL]
    sent = Counter(message["Message-ID"] for message in smtp.accepted)
    assert sent == Counter({message_id: 1 for message_id, _, _ in mails}), sent
    assert len(sent) == 6  # four confirmations, and two shipments: one in flight, one after the restore
    per_order = Counter((renderer, about) for _, renderer, about in mails)
    assert set(per_order.values()) == {1}, per_order
    # and each book was stocked once, the late one too, from the restored rows
    assert stocked == [(4,)] and on_hand and on_hand[0][0] > 0


def test_a_person_forgotten_after_the_dump_is_forgotten_again_in_the_restored_database(tmp_path):
    # given: Ann and Bob registered, and a backup taken
    ann, bob = customer("ann"), customer("bob")
    backup_taken = timezone.now()
    with restored_from_a_dump(tmp_path) as restored:
        # and Ann forgotten afterwards, in the database the restore replaces
        bus.dispatch(ForgetAccount(account_id=ann))
        keys = f"SELECT subject, key IS NOT NULL FROM messaging_personaldatakey WHERE subject IN ('{ann}', '{bob}')"
        assert dict(rows(restored, keys)) == {ann: True, bob: True}  # the backup can read her again

        # when: whoever was forgotten since the backup is listed there, and forgotten again here
        listed = tmp_path / "forgotten.txt"
        with listed.open("w") as out:
            call_command("forgotten_accounts", "--since", backup_taken.isoformat(), stdout=out)
        again = manage(restored, 0, "forget_again", str(listed))
        invariants = manage(restored, 0, "check_invariants")

        # then: her key is gone from the restored database too, and Bob's is untouched
        assert again.returncode == 0 and again.stdout.strip() == f"{ann}: forgotten again", again
        assert dict(rows(restored, keys)) == {ann: False, bob: True}
        (email,) = rows(restored, f"SELECT email FROM accounts_account WHERE id = '{ann}'")
        assert email[0].endswith(".invalid")
        assert invariants.returncode == 0, invariants.stdout + invariants.stderr
