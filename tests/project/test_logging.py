"""LOG_FORMAT=json: every line a JSON object carrying its request's correlation id.

The logging is configured with ``logging_config("json")``, the very dict
``config/settings.py`` builds from ``LOG_FORMAT=json``, with its console
handler writing into a buffer instead of stderr.
"""

import io
import json
import logging.config
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.utils.log import configure_logging
from rest_framework.test import APIClient

from messaging.operations.logging import RequestFieldsFilter, logging_config
from tests.support import gunicorn as served
from tests.support.dead_letters import POLICY, dead_letter
from tests.support.factories import AccountFactory


@pytest.fixture
def json_log():
    """The lines logged while the test runs, parsed; the settings' logging after."""
    stream = io.StringIO()
    config = logging_config("json")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


def request_lines(json_log, send):
    """Send one request with a client's X-Correlation-ID; our id and the lines it logged."""
    theirs = str(uuid.uuid4())
    before = len(json_log())
    response = send(HTTP_X_CORRELATION_ID=theirs)
    lines = json_log()[before:]
    assert {line.get("client_correlation_id") for line in lines} == {theirs}, "the client's id, beside ours"
    return response["X-Correlation-ID"], lines


@pytest.mark.django_db(transaction=True)  # real commits: the policies' lines are logged too
def test_every_line_of_a_request_is_json_with_its_correlation_id(json_log):
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    client = APIClient()
    client.force_authenticate(alice)
    anonymous = APIClient()

    sent = [
        request_lines(json_log, lambda **h: client.post(f"/api/v1/accounts/{bob.pk}/follow/", **h)),
        request_lines(json_log, lambda **h: client.get(f"/api/v1/accounts/{uuid.uuid4()}/", **h)),
        request_lines(json_log, lambda **h: anonymous.get("/api/v1/accounts/me/", **h)),
        request_lines(json_log, lambda **h: client.post("/api/v1/books/", {}, format="json", **h)),
    ]

    for correlation_id, lines in sent:
        assert lines, "every request here logs at least one line"
        assert {line["correlation_id"] for line in lines} == {correlation_id}
    (followed, not_found, unauthorized, forbidden) = (lines for _, lines in sent)
    assert any(line["logger"] == "messaging.bus" for line in followed)
    assert [(line["logger"], line["level"], line["status_code"]) for line in not_found] == [
        ("django.request", "WARNING", 404)
    ]
    assert [line["status_code"] for line in unauthorized] == [401]
    assert [line["status_code"] for line in forbidden] == [403]
    assert all(line["message"] and line["time"] for _, lines in sent for line in lines)


ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.mark.django_db(transaction=True)
def test_each_line_is_dated_in_iso_8601_utc_and_carries_its_facts_as_fields(json_log):
    # given
    alice, bob = AccountFactory(username="alice"), AccountFactory(username="bob")
    client = APIClient()
    client.force_authenticate(alice)
    nowhere = f"/api/v1/accounts/{uuid.uuid4()}/"

    # when
    followed = client.post(f"/api/v1/accounts/{bob.pk}/follow/")
    client.post(f"/api/v1/accounts/{alice.pk}/follow/")  # refused: nobody follows themselves
    client.get(nowhere)

    # then
    lines = json_log()
    assert lines and all(ISO_UTC.fullmatch(line["time"]) for line in lines), [line["time"] for line in lines]
    commands = [line for line in lines if line.get("command") == "FollowAccount"]
    accepted, refused = commands
    assert accepted["outcome"] == "accepted" and accepted["events"] == 1
    assert accepted["correlation_id"] == followed["X-Correlation-ID"]
    assert isinstance(accepted["duration_ms"], float) and accepted["command_id"]
    assert refused["outcome"] == "rejected" and refused["refusal"] == "cannot_follow_self"
    answered = [(line["method"], line["path"], line["status"]) for line in lines if line["logger"] == "django.request"]
    assert answered == [("POST", f"/api/v1/accounts/{alice.pk}/follow/", 409), ("GET", nowhere, 404)]


@pytest.mark.django_db(transaction=True)
def test_a_dead_letter_names_its_policy_and_event_as_fields(json_log, scenario, settings):
    for _ in dead_letter(scenario, settings):
        (line,) = [line for line in json_log() if line["level"] == "ERROR"]

    assert (line["policy"], line["event_type"], line["outcome"], line["attempts"]) == (
        POLICY,
        "AccountFollowed",
        "dead",
        1,
    )
    assert line["error"] == "ConnectionError: the notification service is down"


def test_a_runserver_line_carries_its_method_path_and_status_as_fields():
    # as django.core.servers.basehttp logs a request
    line = ("GET /api/v1/books/?search=eliot HTTP/1.1", "200", "512")
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s', line, None)
    record.status_code = 200

    RequestFieldsFilter().filter(record)

    assert (record.method, record.path, record.status) == ("GET", "/api/v1/books/", 200)


def test_text_stays_the_readable_default():
    config = logging_config("text")

    assert config["formatters"]["console"] == {
        "format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
    }


def test_gunicorn_writes_its_own_lines_as_json_too():
    port = served.free_port()
    server = served.start(
        port, env={**os.environ, "LOG_FORMAT": "json"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        status, correlation_id = get_status(f"http://127.0.0.1:{port}/api/v1/nowhere/", {})
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)

    lines = [json.loads(line) for line in (out + err).splitlines()]
    assert status == 404
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= {line["logger"] for line in lines}
    assert {line["logger"] for line in lines if line["correlation_id"] == correlation_id} == {
        "gunicorn.access",
        "django.request",
    }
    (access,) = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/v1/nowhere/", 404)
    assert isinstance(access["duration_ms"], float) and ISO_UTC.fullmatch(access["time"])


def get_status(url: str, headers: dict) -> tuple[int, str]:
    """The status and correlation id of a GET of ``url``, waiting up to 20 s for the server to listen."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                return response.status, response.headers["X-Correlation-ID"]
        except urllib.error.HTTPError as error:
            return error.code, error.headers["X-Correlation-ID"]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
