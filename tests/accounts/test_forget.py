"""Forgetting an account: deactivated as by DeactivateAccount, and the
person's e-mail and username erased from the row and from every copy, while
the profile, the API, the trace and every consistency rule still work."""

import io

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.commands import FollowAccount, ForgetAccount
from accounts.events import AccountDeactivated, AccountForgotten
from accounts.models import Account
from messaging import bus
from messaging.models import Delivery, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder
from tests.factories import AccountFactory, BookFactory
from tests.stock import place

pytestmark = pytest.mark.django_db

EMAIL, USERNAME, PASSWORD = "zelda.forget@example.com", "zelda_forget", "a long secret 123"


def tables_mentioning(text: str) -> list[str]:
    """``table.column`` for every column of every table holding ``text``,
    whatever its case (each column read as text)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                quote = connection.ops.quote_name
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE LOWER(CAST({quote(column.name)} AS TEXT)) LIKE %s",
                    [f"%{text.lower()}%"],
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column.name}")
    return found


def signed_in(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


@pytest.fixture
def zelda(settings):
    """Zelda registered through the API (its answer stored for its key),
    follows and is followed by Bob, had an order confirmed (a mail to her),
    a delivery error and an admin's log entry quote her address."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    registration = {"email": EMAIL, "username": USERNAME, "password": PASSWORD}
    answer = APIClient().post("/api/v1/accounts/", registration, format="json", HTTP_IDEMPOTENCY_KEY="signup-z")
    assert answer.status_code == 201
    zelda, bob = Account.objects.get(username=USERNAME), AccountFactory(username="bob")
    bus.dispatch(FollowAccount(follower_id=zelda.pk, followee_id=bob.pk))
    bus.dispatch(FollowAccount(follower_id=bob.pk, followee_id=zelda.pk))
    (placed, *_) = bus.dispatch(place(zelda, (BookFactory(), 1))).events
    bus.dispatch(ConfirmOrder(order_id=placed.order_id))
    relay()
    Delivery.objects.filter(pk=Delivery.objects.first().pk).update(last_error=f"the server refused <{EMAIL}>")
    LogEntry.objects.create(
        user_id=bob.pk,
        content_type=ContentType.objects.get_for_model(Account),
        object_id=str(zelda.pk),
        object_repr=USERNAME,
        action_flag=CHANGE,
        change_message=f"Looked at {EMAIL}",
    )
    assert tables_mentioning(EMAIL)  # the search finds what is there
    return zelda


def test_a_person_forgotten_through_the_api_is_found_nowhere_and_everything_still_reads(zelda):
    # given a wrong password is refused
    me = signed_in(zelda)
    assert me.post("/api/v1/accounts/me/forget/", {"password": "not it"}, format="json").status_code == 400

    # when Zelda forgets herself, her password given again
    answer = me.post("/api/v1/accounts/me/forget/", {"password": PASSWORD}, format="json")
    relay()

    # then her e-mail and username are nowhere in the database
    assert answer.status_code == 200 and answer.json()["is_active"] is False
    assert tables_mentioning(EMAIL) == []
    assert tables_mentioning(USERNAME) == []
    zelda.refresh_from_db()
    assert not zelda.has_usable_password() and zelda.username.startswith("forgotten-")

    # and her profile, the API's reads, the trace and the rules still work
    bob = Account.objects.get(username="bob")
    reader, staff = signed_in(bob), AccountFactory(username="operator", is_staff=True)
    assert reader.get(f"/api/v1/accounts/{zelda.pk}/").json()["username"] == zelda.username
    assert reader.get(f"/api/v1/accounts/{bob.pk}/").json()["followers_count"] == 0
    page = APIClient()
    page.force_login(bob)
    assert page.get(f"/people/{zelda.username}/").status_code == 200
    page.force_login(staff)
    registered = StoredEvent.objects.get(type="AccountRegistered", payload__account_id=str(zelda.pk))
    assert page.get(f"/trace/{registered.correlation_id}/").status_code == 200
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    assert out.getvalue().startswith("all ")


def test_a_forgotten_customers_order_moves_on_without_mailing_anyone(zelda):
    # given an order Zelda placed before she was forgotten
    (placed, *_) = bus.dispatch(place(zelda, (BookFactory(), 1))).events
    bus.dispatch(ForgetAccount(account_id=zelda.pk))

    mails = StoredEvent.objects.filter(type="MailQueued").count()

    # when staff confirm it
    bus.dispatch(ConfirmOrder(order_id=placed.order_id))
    relay()

    # then no mail is queued to her placeholder, and every rule holds
    assert StoredEvent.objects.filter(type="MailQueued").count() == mails
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    assert out.getvalue().startswith("all ")


def test_forgetting_deactivates_once_and_a_second_time_does_nothing(scenario, zelda):
    scenario.when(ForgetAccount(account_id=zelda.pk)).then_events(AccountDeactivated, AccountForgotten)

    scenario.when(ForgetAccount(account_id=zelda.pk)).then_events()


def test_the_profile_page_forgets_its_person_after_their_password(client, zelda):
    client.force_login(zelda)
    own = client.get(f"/people/{USERNAME}/")
    key = own.context["forget_form"]["idempotency_key"].value()

    refused = client.post("/account/forget/", {"password": "not it", "idempotency_key": key})
    assert refused.status_code == 302 and Account.objects.get(pk=zelda.pk).is_active

    done = client.post("/account/forget/", {"password": PASSWORD, "idempotency_key": key})
    assert done.status_code == 302 and not Account.objects.get(pk=zelda.pk).is_active
    assert not client.get("/orders/").wsgi_request.user.is_authenticated
