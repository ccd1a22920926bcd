"""Production serving: the deploy checks pass, gunicorn serves with whitenoise."""

import os
import runpy
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.db import connection

from tests.support import gunicorn as served
from tests.support.factories import AccountFactory, api_token
from tests.support.subprocesses import database_url

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "PERSONAL_DATA_KEYS": "cHJvZHVjdGlvbi10ZXN0LXdyYXBwaW5nLWtleS0zMmI=",
    "ALLOWED_HOSTS": "shop.example.com,127.0.0.1",
    "EMAIL_URL": "smtp://mail.example.com:25",
    "CACHE_URL": "rediscache://cache.example.com:6379/1",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert result.returncode == 0, result.stderr


def test_debug_off_with_the_development_secret_key_refuses_to_start():
    env = {**PRODUCTION}
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG is off but SECRET_KEY is the development key" in result.stderr


def test_debug_off_with_the_development_personal_data_key_refuses_to_start():
    env = {**PRODUCTION}
    del env["PERSONAL_DATA_KEYS"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "DEBUG is off but PERSONAL_DATA_KEYS starts with the development key" in result.stderr


def test_gunicorn_is_bound_to_loopback_so_only_the_proxy_reaches_it(monkeypatch):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    config = runpy.run_path(str(settings.BASE_DIR / "config" / "gunicorn.py"))
    production = (settings.BASE_DIR / "docs" / "production.md").read_text()
    security = (settings.BASE_DIR / "docs" / "security.md").read_text()

    assert config["bind"] == "127.0.0.1:8000"
    assert "0.0.0.0" not in production + security + (settings.BASE_DIR / "README.md").read_text()
    assert "--bind 127.0.0.1:8000" in production and "must **overwrite**" in security


def test_the_development_defaults_do_not_pass_them():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr or "DEBUG" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_pages_and_hashed_static_files(tmp_path):
    env = {
        **PRODUCTION,
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": database_url(),
    }
    assert manage("collectstatic", "--no-input", env=env).returncode == 0
    port = served.free_port()
    server = served.start(
        port, "--access-logfile", "/dev/null", workers=2, env={**os.environ, **env}, stderr=subprocess.PIPE
    )
    try:
        login = _get(f"http://127.0.0.1:{port}/admin/login/")
        css = next(line for line in login.splitlines() if "admin/css/base" in line)
        href = css.split('href="')[1].split('"')[0]
        assert href.startswith("/static/admin/css/base.") and href.count(".") == 2  # a hashed name
        assert "body" in _get(f"http://127.0.0.1:{port}{href}")
    finally:
        server.terminate()
        server.wait(timeout=20)


def _get(url: str | urllib.request.Request) -> str:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_sessions_end_hung_statements_lock_waits_and_idle_transactions():
    with connection.cursor() as cursor:
        shown = []
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            cursor.execute(f"SHOW {name}")
            shown.append(cursor.fetchone()[0])

    assert shown == ["30s", "10s", "1min"]


@pytest.mark.postgres
def test_the_postgresql_guards_come_from_the_environment():
    result = manage(
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])",
        env={"DATABASE_URL": database_url(), "PG_STATEMENT_TIMEOUT_MS": "5000", "PG_LOCK_TIMEOUT_MS": "0"},
    )

    assert result.stdout.split() == [
        "-c",
        "statement_timeout=5000",
        "-c",
        "lock_timeout=0",
        "-c",
        "idle_in_transaction_session_timeout=60000",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_gunicorn_worker_keeps_its_postgresql_connection_between_requests(tmp_path):
    account = AccountFactory()
    token = api_token(account)
    env = {**PRODUCTION, "SECURE_SSL_REDIRECT": "false", "STATIC_ROOT": str(tmp_path), "DATABASE_URL": database_url()}
    port = served.free_port()
    others = _other_backends()  # connections of other threads and servers, not the worker's
    server = served.start(port, "--access-logfile", "/dev/null", workers=1, env={**os.environ, **env})
    try:
        backends = []
        for _ in range(3):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/accounts/me/", headers={"Authorization": f"Token {token}"}
            )
            assert '"username"' in _get(request)
            backends.append(_other_backends() - others)
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert len(backends[0]) == 1  # the worker's connection outlived its request...
    assert backends[0] == backends[1] == backends[2]  # ...and served the next ones


def _other_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}
