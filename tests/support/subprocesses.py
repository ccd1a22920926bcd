"""Helpers for tests that start other processes against the test database."""

from django.db import connection


def database_url() -> str:
    """A DATABASE_URL for the database this test runs on, for a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
