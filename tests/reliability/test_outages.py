"""Riding out a database outage: a relay started while the database is down
waits for it; the API and the pages answer 503 with ``Retry-After``, never
500. Each test runs the product in a process of its own, pointed at a
PostgreSQL port where nothing listens (a stopped cluster)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.gunicorn import free_port

ROOT = Path(__file__).resolve().parents[2]


def unreachable_database() -> dict:
    """The environment of a process whose database is down."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/postgres",
        "PYTHONUNBUFFERED": "1",
    }


def test_a_relay_started_while_the_database_is_down_waits_for_it_and_stops_cleanly(tmp_path):
    # given: the database is down
    log = tmp_path / "relay.log"

    # when: a relay worker starts
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "relay_events", "--loop", "--interval", "0.2"],
            cwd=ROOT,
            env=unreachable_database(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while "waiting for the database" not in log.read_text() and time.monotonic() < deadline:
                assert worker.poll() is None, f"the relay exited: {log.read_text()}"
                time.sleep(0.2)
            time.sleep(1)

            # then: it is still running, saying it waits, and stops on SIGTERM
            assert worker.poll() is None, log.read_text()
            assert "waiting for the database" in log.read_text()
        finally:
            worker.send_signal(signal.SIGTERM)
            returncode = worker.wait(timeout=20)
    assert returncode == 0, log.read_text()


ASK = """
import json, django
django.setup()
from django.test import Client
from django.urls import reverse
client, answers = Client(raise_request_exception=False), {}
for name, path in [("api", "/api/v1/books/"), ("api_post", "/api/v1/orders/"), ("page", reverse("catalog:books"))]:
    if name == "api_post":  # a signed-in client: its token is looked up in the database
        response = client.post(path, {}, content_type="application/json", HTTP_AUTHORIZATION="Token 0123abcd")
    else:
        response = client.get(path)
    answers[name] = {
        "status": response.status_code,
        "retry_after": response.headers.get("Retry-After"),
        "type": response.headers.get("Content-Type"),
        "body": response.content.decode(),
    }
print(json.dumps(answers))
"""


def test_the_api_and_the_pages_answer_503_with_retry_after_while_the_database_is_unreachable():
    # given: the database is down; when: the API and a page are asked
    done = subprocess.run(
        [sys.executable, "-c", ASK],
        cwd=ROOT,
        env={**unreachable_database(), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.splitlines()[-1])

    # then: the API answers its error shape, 503, with when to try again
    for name in ("api", "api_post"):
        api = answers[name]
        assert (api["status"], api["type"]) == (503, "application/json"), api
        assert int(api["retry_after"]) > 0
        body = json.loads(api["body"])
        assert body["code"] == "unavailable" and body["detail"]
    # and people get a page of the site's own, not a bare error
    page = answers["page"]
    assert page["status"] == 503 and int(page["retry_after"]) > 0
    assert "text/html" in page["type"] and "site.css" in page["body"] and "try again" in page["body"].lower()
