"""DRF's clear-text tokens become hashed ``ApiToken`` rows on migrating:
a client holding its old key keeps working, and the key is stored nowhere."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db(transaction=True)

OLD_KEY = "0123456789abcdef0123456789abcdef01234567"


def test_an_old_clear_token_is_hashed_and_still_authenticates():
    # given the release before: a clear DRF token of Ada's
    call_command("migrate", "accounts", "0006", verbosity=0)
    ada = AccountFactory.build(username="ada")  # inserted as that release's table had it
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_account (id, password, is_superuser, email, username, is_active, is_staff, "
            "date_joined) VALUES (%s, %s, %s, %s, %s, %s, %s, CURRENT_TIMESTAMP)",
            [
                ada.pk.hex if connection.vendor == "sqlite" else ada.pk,
                ada.password,
                False,
                ada.email,
                "ada",
                True,
                False,
            ],
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, CURRENT_TIMESTAMP)",
            [OLD_KEY, ada.pk.hex if connection.vendor == "sqlite" else ada.pk],
        )

    # when the database is migrated
    call_command("migrate", verbosity=0, stdout=io.StringIO())

    # then the key works, and only its digest is stored
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {OLD_KEY}")
    assert client.get("/api/v1/accounts/me/").json()["username"] == "ada"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert OLD_KEY not in str(list(ApiToken.objects.values()))
