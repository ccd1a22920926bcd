"""The Procfile runs the pieces of production together under honcho: web
(gunicorn), database workers, mail workers and the beat (Celery), against
a throwaway PostgreSQL and Redis and a local SMTP server. An order placed
through the API and confirmed is mailed by the mail workers, every
delivery ends done, and the whole stops cleanly on Ctrl-C (each piece
shutting down on the SIGTERM honcho sends it, none killed)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psycopg
import pytest
from django.conf import settings

from tests.support.gunicorn import free_port
from tests.support.pg_cluster import throwaway_cluster
from tests.support.redis_server import throwaway_redis
from tests.support.smtp import mail_server

ROOT = settings.BASE_DIR
HONCHO = ROOT / ".venv" / "bin" / "honcho"


def manage(*args: str, env: dict) -> list[dict]:
    """Run a management command against the throwaway services; the JSON lines it printed."""
    ran = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]


def call(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def waited(what: str, check, log, timeout: float = 90):
    """``check()``'s first true answer, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if answer := check():
                return answer
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{what} not within {timeout} s; honcho said:\n{log.read_text()[-6000:]}")


def open_deliveries(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        return connection.execute(
            "SELECT count(*) FROM messaging_delivery WHERE status NOT IN ('done', 'skipped')"
        ).fetchone()[0]


def test_honcho_runs_the_procfile_and_an_order_is_confirmed_and_mailed(tmp_path):
    with throwaway_cluster() as database, throwaway_redis() as broker, mail_server() as smtp:
        port = free_port()
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")},
            "DATABASE_URL": database,
            "CELERY_BROKER_URL": broker.url,
            "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
            "PORT": str(port),
            "WEB_CONCURRENCY": "1",
            "DATABASE_CONCURRENCY": "1",
            "MAIL_CONCURRENCY": "1",
            # every delivery to the workers, none run by the process that committed
            "MESSAGING_DELIVER_ON_COMMIT": "false",
        }
        manage("migrate", "--no-input", env=env)
        manage(
            "send_command",
            "RegisterAccount",
            "email=ada@example.com",
            "username=ada",
            "password=a long secret",
            env=env,
        )
        # an order needs a verified address: the link's step, as the shell takes it
        manage("send_command", "VerifyEmail", "account_id=@ada", env=env)
        (added, *_) = manage(
            "send_command", "AddBook", "title=Middlemarch", "author=George Eliot", "price=14.50", env=env
        )
        book_id = added["payload"]["book_id"]

        log = tmp_path / "honcho.log"
        with open(log, "w") as output:
            honcho = subprocess.Popen(
                [str(HONCHO), "start"],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        api = f"http://127.0.0.1:{port}/api/v1"
        try:
            waited("/health/", lambda: call(f"http://127.0.0.1:{port}/health/")[0] == 200, log)
            # the book's stock comes from a policy, which the database workers run
            waited("the book's stock", lambda: call(f"{api}/books/{book_id}/")[1].get("stock"), log)
            status, answer = call(
                f"{api}/auth/token/",
                data=urllib.parse.urlencode({"username": "ada", "password": "a long secret"}).encode(),
            )
            assert status == 200, answer
            status, order = call(
                f"{api}/orders/",
                data=json.dumps({"items": [{"book_id": book_id, "quantity": 1}]}).encode(),
                headers={
                    "Authorization": f"Bearer {answer['token']}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": str(uuid.uuid4()),
                },
            )
            assert status == 201, order
            manage("send_command", "ConfirmOrder", f"order_id={order['id']}", env=env)  # the staff's step

            waited("the confirmation mail", lambda: smtp.accepted, log)
            waited("every delivery done", lambda: open_deliveries(database) == 0, log)
        finally:
            honcho.send_signal(signal.SIGINT)  # Ctrl-C in its terminal
            try:
                stopped = honcho.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                raise
        # the order's confirmation (the address was verified before a worker could mail its link)
        (mail,) = smtp.accepted
        assert mail["To"] == "ada@example.com" and mail["Subject"].endswith("is confirmed"), mail["Subject"]
        said = log.read_text()
        # 130: stopped by the SIGINT, not by a process that died before it
        assert stopped == 130, said[-6000:]
        assert said.count("stopped (rc=") == 4 and "SIGKILL" not in said, said[-6000:]
        assert "Shutting down: Master" in said and said.count("Warm shutdown") == 2
        assert "Traceback" not in said, said[-6000:]
