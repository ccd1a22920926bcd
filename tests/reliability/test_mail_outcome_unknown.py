"""A mail server slower than ``EMAIL_TIMEOUT`` (issue 26): it takes each
mail, then answers after the client gave up. The outcome is unknown, not a
failure to retry at once: the mail is tried once more after
``MESSAGING_UNKNOWN_OUTCOME_RETRY_SECONDS`` with the same Message-ID, then
parked as a dead letter that says so. Before, the server received each
mail five times and the ledger called it dead."""

import pytest
from django.db.models.functions import Now

from messaging.models import Delivery
from messaging.testing import relay
from orders.commands import ConfirmOrder
from tests.support.factories import AccountFactory, BookFactory
from tests.support.smtp import mail_server
from tests.support.stock import place

SEND = "messaging.outbox.send_queued_mail"


@pytest.fixture
def confirmed_order(db, scenario, settings):
    """An order confirmed (its mail queued), retries due at once (no backoff)."""
    settings.MESSAGING_RETRY_BASE_SECONDS = 0
    alice = AccountFactory(username="alice", email="alice@example.com")
    (placed,) = scenario.given(place(alice, (BookFactory(), 1)))
    scenario.when(ConfirmOrder(order_id=placed.events[0].order_id))


def test_a_mail_server_slower_than_the_timeout_gets_the_mail_twice_at_most_and_the_row_says_why(
    confirmed_order, settings
):
    with mail_server(slow_by=1.0) as server:
        settings.MAILERS = server.mailers(timeout=0.3)

        relay()  # a relay drains: rounds until nothing is due

        sending = Delivery.objects.get(policy=SEND)
        assert (sending.status, sending.attempts) == (Delivery.Status.FAILED, 1)
        assert sending.last_error.startswith("OutcomeUnknown: ")
        assert "may have been delivered" in sending.last_error
        assert len(server.accepted) == 1

        assert "nothing was due" in relay()  # not retried before its longer wait
        waits = Delivery.objects.filter(pk=sending.pk, next_attempt_at__gt=Now()).exists()
        assert waits

        Delivery.objects.filter(pk=sending.pk).update(next_attempt_at=Now())  # the wait has passed
        relay()

    sending.refresh_from_db()
    assert (sending.status, sending.attempts) == (Delivery.Status.DEAD, 2)
    assert "unknown twice, parked" in sending.last_error
    assert len(server.accepted) == 2
    first, second = server.accepted
    assert first["Message-ID"] == second["Message-ID"]
    assert "alice@example.com" not in sending.last_error


def test_a_mail_server_that_answers_in_time_gets_it_once(confirmed_order, settings):
    with mail_server(slow_by=0.1) as server:
        settings.MAILERS = server.mailers(timeout=2)
        relay()

    assert Delivery.objects.get(policy=SEND).status == Delivery.Status.DONE
    assert len(server.accepted) == 1
