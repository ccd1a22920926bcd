"""The mail outbox against a real (local, fake) SMTP server: a slow or hung
server holds up no request and no other writer, a mail sent again after a
crash carries the same Message-ID, and a recipient the server refuses is
named by account, never by address."""

import logging
import os
import signal
import socketserver
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.mails import AS_WRITTEN_MAIL
from accounts.models import Account
from messaging.delivery.ledger import Permanent
from messaging.features.outbox import MailQueued, send_queued_mail
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder
from orders.mails import CONFIRMED_MAIL
from orders.queries import order as order_view
from tests.support.factories import AccountFactory, BookFactory, api_token
from tests.support.smtp import mail_server
from tests.support.stock import place
from tests.support.subprocesses import database_url

SEND = "messaging.outbox.send_queued_mail"


def client_for(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(account)}")
    return client


def relay_in_a_thread() -> threading.Thread:
    def work():
        try:
            relay()
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


class _RefusingEveryRecipient(socketserver.StreamRequestHandler):
    """An SMTP conversation that refuses every recipient for good, quoting
    the address back as real servers do."""

    def handle(self):
        self._say("220 localhost test SMTP")
        while line := self.rfile.readline():
            text = line.decode(errors="replace").strip()
            verb = text.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 localhost")
            elif verb == "RCPT":
                self._say(f"550 5.1.1 {text.partition(':')[2].strip()}: Recipient address rejected: User unknown")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 OK")

    def _say(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


@contextmanager
def refusing_mail_server():
    """A local SMTP server that refuses every recipient; yields the ``MAILERS`` setting to reach it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _RefusingEveryRecipient)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    try:
        yield {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": host, "port": port, "timeout": 5},
            }
        }
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def shop(db):
    alice = AccountFactory(username="alice", email="alice@example.com")
    bob = AccountFactory(username="bob")
    staff = AccountFactory(username="operator", is_staff=True)
    book = BookFactory(title="Dune")
    return alice, bob, staff, book


@pytest.mark.django_db(transaction=True)
def test_a_stalled_mail_server_holds_up_neither_the_confirming_request_nor_other_writes(shop, settings):
    alice, bob, staff, book = shop
    if connection.vendor == "sqlite":  # a writer kept waiting fails in 2 s, not after the default 20
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 2000")
    as_alice, as_staff = client_for(alice), client_for(staff)
    placed = as_alice.post("/api/v1/orders/", {"items": [{"book_id": str(book.pk), "quantity": 1}]}, format="json")

    with mail_server(stall_before="DATA-END") as server:
        settings.MAILERS = server.mailers(timeout=30)

        # the confirming request answers without having talked to the mail server
        confirmed = as_staff.post(f"/api/v1/orders/{placed.data['id']}/confirm/")
        assert (confirmed.status_code, confirmed.data["status"]) == (200, "CONFIRMED")
        assert not server.stalled.is_set() and server.accepted == []

        # a relay worker starts sending, and the server stalls in the middle of it
        sender = relay_in_a_thread()
        assert server.stalled.wait(timeout=10)

        # meanwhile everybody else's writes go through as usual
        assert as_alice.post(f"/api/v1/accounts/{bob.pk}/follow/").status_code == 201
        assert as_alice.post(f"/api/v1/accounts/{bob.pk}/unfollow/").status_code == 200
        again = as_alice.post("/api/v1/orders/", {"items": [{"book_id": str(book.pk), "quantity": 1}]}, format="json")
        assert again.status_code == 201
        assert Delivery.objects.get(policy=SEND).status == Delivery.Status.PENDING  # still being sent

        # the server answers at last: the mail is sent, once
        server.go_on.set()
        sender.join(timeout=30)

    (mail,) = server.accepted
    assert mail["To"] == "alice@example.com"
    assert mail["Message-ID"] == StoredEvent.objects.get(type="MailQueued").payload["message_id"]
    assert Delivery.objects.get(policy=SEND).status == Delivery.Status.DONE
    assert order_view(placed.data["id"]).status == "CONFIRMED"


def test_a_hung_mail_server_times_out_and_the_mail_is_retried_then_dead_lettered(shop, scenario, settings):
    alice, _, _, book = shop
    settings.MESSAGING_MAX_ATTEMPTS = 2
    (placed,) = scenario.given(place(alice, (book, 1)))
    order_id = placed.events[0].order_id

    with mail_server(stall_before="EHLO") as server:  # never answers
        settings.MAILERS = server.mailers(timeout=0.5)
        scenario.when(ConfirmOrder(order_id=order_id))
        relay()
        sending = Delivery.objects.get(policy=SEND)
        assert (sending.status, sending.attempts) == (Delivery.Status.FAILED, 1)
        assert "timed out" in sending.last_error

        Delivery.objects.filter(pk=sending.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        relay()

    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.DEAD, 2)
    assert server.accepted == []
    assert order_view(order_id).status == "CONFIRMED"


@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_after_the_server_accepted_the_mail_sends_it_again_with_the_same_message_id(
    shop, scenario, settings
):
    alice, _, _, book = shop
    (placed,) = scenario.given(place(alice, (book, 1)))
    scenario.when(ConfirmOrder(order_id=placed.events[0].order_id))

    with mail_server(stall_before="QUIT") as server:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "EMAIL_URL": f"smtp://{server.host}:{server.port}",
            "MESSAGING_LOG_LEVEL": "WARNING",
        }
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "relay_events"],
            env=env,
            cwd=django_settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # the server has accepted the mail (250) and the worker is saying goodbye: it dies there
        assert server.stalled.wait(timeout=30), worker.stderr.read().decode() if worker.poll() is not None else ""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert len(server.accepted) == 1
        sending = Delivery.objects.get(policy=SEND)
        assert sending.status == Delivery.Status.PENDING  # never marked sent

        # its lease runs out; another worker sends it again
        server.stall_before = None
        server.go_on.set()
        Delivery.objects.filter(pk=sending.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        settings.MAILERS = server.mailers(timeout=10)
        relay()

    first, again = server.accepted
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"] == StoredEvent.objects.get(type="MailQueued").payload["message_id"]
    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.DONE, 2)


def test_a_recipient_the_mail_server_refuses_is_named_by_account_never_by_address(shop, scenario, settings, caplog):
    caplog.set_level(logging.DEBUG)
    alice, _, _, book = shop
    (placed,) = scenario.given(place(alice, (book, 1)))

    with refusing_mail_server() as mailers:
        settings.MAILERS = mailers
        scenario.when(ConfirmOrder(order_id=placed.events[0].order_id))
        relay()

    sending = Delivery.objects.get(policy=SEND)
    assert (sending.status, sending.attempts) == (Delivery.Status.DEAD, 1)
    assert sending.last_error == (
        f"Permanent: the mail server refused the mail to account {alice.pk}: "
        f"550 5.1.1 <account {alice.pk}>: Recipient address rejected: User unknown"
    )
    assert "alice@example.com" not in caplog.text


def test_the_error_of_a_refused_mail_chains_no_error_that_quotes_the_address(shop, scenario, settings):
    alice, _, _, book = shop
    (placed,) = scenario.given(place(alice, (book, 1)))
    queued = MailQueued(
        message_id="<refused@shop.test>",
        recipient_id=alice.pk,
        renderer=CONFIRMED_MAIL,
        about=placed.events[0].order_id,
        params={},
    )

    with refusing_mail_server() as mailers, pytest.raises(Permanent) as refused:
        settings.MAILERS = mailers
        send_queued_mail(queued)

    # what a trace records of it (its traceback, chained errors included) names her account only
    told = "".join(traceback.format_exception(refused.value))
    assert f"account {alice.pk}" in told
    assert "alice@example.com" not in told and "SMTPRecipientsRefused" not in told


def test_a_mail_queued_with_its_text_before_mail_carried_ids_goes_to_the_recipients_address_of_now(shop, mailoutbox):
    alice = shop[0]
    Account.objects.filter(pk=alice.pk).update(email="alice.b@example.org")
    queued = MailQueued(
        message_id="<old@shop.test>",
        recipient_id=alice.pk,
        renderer=AS_WRITTEN_MAIL,
        params={"subject": "Your order is confirmed", "body": "Hello alice,"},
    )

    send_queued_mail(queued)

    (mail,) = mailoutbox
    assert (mail.to, mail.subject, mail.body) == (["alice.b@example.org"], "Your order is confirmed", "Hello alice,")
    assert mail.extra_headers["Message-ID"] == "<old@shop.test>"
