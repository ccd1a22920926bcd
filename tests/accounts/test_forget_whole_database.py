"""Forgetting a person, seen from outside the code: a dump of the whole
database holds neither their address nor their name afterwards, and a
policy that was about to mail them when they were forgotten sends nothing
and leaves no clear copy (PostgreSQL, the policy held at a barrier)."""

import os
import subprocess
import threading

import pytest
from django.core import mail
from django.db import connection

from accounts.commands import ForgetAccount
from accounts.models import Account
from messaging import bus
from messaging.models import Delivery
from messaging.registry import registry
from messaging.testing import relay
from orders.commands import ConfirmOrder
from orders.events import OrderConfirmed
from tests.accounts.test_forget import PASSWORD, register, signed_in, tables_mentioning
from tests.support.concurrency import run_concurrently
from tests.support.factories import BookFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL, USERNAME = "quentin.dump@example.com", "quentin_dump"


def database_dump() -> str:
    """The whole database as SQL text: SQLite's own dump of the file, or pg_dump's."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    settings = connection.settings_dict
    environment = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
    command = ["pg_dump", "-h", settings["HOST"], "-p", str(settings["PORT"]), "-U", settings["USER"], settings["NAME"]]
    return subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout


def test_a_dump_of_the_whole_database_holds_nothing_of_a_forgotten_person(settings):
    # given Quentin registered, ordered, had his order confirmed (a mail) and
    # kept an answer for an idempotency key
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    quentin = register(USERNAME, EMAIL, "signup-q")
    order = {"items": [{"book_id": str(BookFactory().pk), "quantity": 1}]}
    placed = signed_in(quentin).post("/api/v1/orders/", order, format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    bus.dispatch(ConfirmOrder(order_id=placed.json()["id"]))
    relay()
    assert EMAIL in database_dump()  # his account's row holds it until he is forgotten

    # when he forgets himself
    forgotten = signed_in(quentin).post("/api/v1/accounts/me/forget/", {"password": PASSWORD}, format="json")
    relay()

    # then the dump holds neither his address nor his name, in any case
    assert forgotten.status_code == 200
    dump = database_dump().lower()
    assert EMAIL not in dump and USERNAME not in dump


@pytest.mark.postgres
def test_a_mail_policy_in_flight_when_its_customer_is_forgotten_sends_nothing_and_copies_nothing(settings):
    # given an order whose confirmation's mail policy is held at a barrier,
    # after it ran and before its commands are stored
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    customer = register(USERNAME, EMAIL, "signup-q")
    (placed, *_) = bus.dispatch(place(customer, (BookFactory(), 1))).events
    bus.dispatch(ConfirmOrder(order_id=placed.order_id))
    (mailing,) = [policy for policy in registry.subscriptions[OrderConfirmed] if "mail" in policy.name]
    ran, forgotten = threading.Event(), threading.Event()

    def held(event):
        commands = mailing(event)
        ran.set()
        assert forgotten.wait(timeout=30)
        return commands

    registry.unsubscribe(mailing)
    holding = registry.subscribe(OrderConfirmed, held, name=mailing.name, locks=mailing.locks)
    try:
        # when the relay delivers it while the customer is forgotten
        def forget():
            assert ran.wait(timeout=30)
            bus.dispatch(ForgetAccount(account_id=customer.pk))
            forgotten.set()

        failures = [each for each in run_concurrently([lambda: relay(), forget]) if isinstance(each, Exception)]
    finally:
        registry.unsubscribe(holding)
        registry.subscribe(OrderConfirmed, mailing.function, name=mailing.name, locks=mailing.locks)
    relay()

    # then no mail went to the customer, its delivery says why, and no clear copy is left
    assert failures == []
    assert [message.to for message in mail.outbox] == []
    order_mails = Delivery.objects.filter(event__type="MailQueued").exclude(
        event__payload__renderer="accounts.verification_link"  # her sign-up's, skipped too: she had verified
    )
    assert order_mails.filter(status=Delivery.Status.SKIPPED).count() == 1
    assert tables_mentioning(EMAIL) == [] and tables_mentioning(USERNAME) == []
    dump = database_dump().lower()
    assert EMAIL not in dump and USERNAME not in dump
    assert Account.objects.get(pk=customer.pk).username.startswith("forgotten-")
