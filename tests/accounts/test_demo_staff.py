"""``ensure_demo_staff``: a demo login on the developer's own database, never a promotion."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded(settings, monkeypatch):
    """Run as on the embedded default: no DATABASE_URL, and the test's SQLite file taken for the one beside the code."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default is an SQLite file")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.EMBEDDED_DATABASE = connection.settings_dict["NAME"]


def ensure_demo_staff(**options) -> str:
    out = io.StringIO()
    call_command("ensure_demo_staff", stdout=out, **options)
    return out.getvalue()


def test_on_the_embedded_database_it_registers_a_new_staff_login_and_prints_it(embedded):
    output = ensure_demo_staff()

    admin = Account.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin-demo-password")
    assert "admin / admin-demo-password" in output


def test_run_again_it_keeps_its_own_login_without_printing_the_password(embedded):
    ensure_demo_staff()

    output = ensure_demo_staff()

    assert Account.objects.filter(username="admin", is_superuser=True).count() == 1
    assert "already there" in output and "admin-demo-password" not in output


def test_an_admin_a_stranger_registered_through_the_api_is_never_made_staff(embedded, client):
    # given: a stranger registered "Admin" through the API
    client.post(
        "/api/v1/accounts/",
        {"email": "mallory@example.com", "username": "Admin", "password": "mallory-long-secret"},
        content_type="application/json",
    )

    # when / then
    with pytest.raises(CommandError, match="did not make it"):
        ensure_demo_staff()
    stranger = Account.objects.get(username="Admin")
    assert not stranger.is_staff and not stranger.is_superuser


def test_with_a_database_url_in_the_environment_it_makes_nothing(embedded, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://shop:secret@db.internal:5432/shop")

    output = ensure_demo_staff()

    assert not Account.objects.exists()
    assert "createsuperuser" in output


def test_on_another_database_it_makes_nothing(settings, monkeypatch, tmp_path):
    # the test database is not the file beside the code; DEBUG (on by default) is no guard
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.DEBUG = True

    output = ensure_demo_staff()

    assert not Account.objects.exists()
    assert "not the embedded SQLite database" in output
