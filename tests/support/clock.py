"""The database's clock, read apart from the kernel, and an application host
whose clock is off by some seconds."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import dateparse, timezone


def database_now() -> datetime:
    """Now by the database's own clock (UTC, aware)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')")
            return dateparse.parse_datetime(cursor.fetchone()[0]).replace(tzinfo=UTC)
        cursor.execute("SELECT STATEMENT_TIMESTAMP()")
        return cursor.fetchone()[0]


@contextmanager
def skewed(monkeypatch, seconds: float):
    """The application's clock (``django.utils.timezone.now``, which every
    module calls through ``timezone.now()``) ``seconds`` ahead of the
    database's (behind when negative)."""
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + timedelta(seconds=seconds))
    yield
    monkeypatch.setattr(timezone, "now", real)
