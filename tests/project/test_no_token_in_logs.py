"""No reset or verification link's token in the logs we write: gunicorn's
own access log (in text and in JSON) records the links' paths with their
tokens redacted, through real gunicorn on the test's database; so does the
request's tracing span."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from opentelemetry.trace import SpanKind

from accounts import verification
from config.access_log import redact
from tests.support import gunicorn as served
from tests.support.factories import AccountFactory
from tests.support.subprocesses import database_url
from tests.support.telemetry import recording

pytestmark = pytest.mark.django_db(transaction=True)  # committed: gunicorn reads the same database


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def follow_once(url: str) -> int:
    """The status of a GET of ``url``, redirects not followed, waiting up to 20 s for the server."""
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + 20
    while True:
        try:
            with opener.open(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_access_log_holds_no_token_of_a_reset_or_verification_link(tmp_path, log_format):
    # given a reset link and a verification link of Carol's
    carol = AccountFactory(username="carol", email_verified_at=None)
    uid = urlsafe_base64_encode(force_bytes(carol.pk))
    reset_token = default_token_generator.make_token(carol)
    verify_token = verification.make_token(carol)
    access_log = tmp_path / "access.log"
    port = served.free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_FORMAT": log_format}
    server = served.start(
        port, "--access-logfile", str(access_log), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    # when both are followed, a referrer naming one of them too
    try:
        base = f"http://127.0.0.1:{port}"
        statuses = [
            follow_once(f"{base}/password-reset/{uid}/{reset_token}/"),
            follow_once(f"{base}/verify-email/{verify_token}/"),
        ]
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)

    # then each was answered, and logged without its token, in its file (text) or with the rest (JSON)
    assert statuses == [302, 302]
    logged = access_log.read_text() if log_format == "text" else out + err
    assert f"/password-reset/{uid}/[redacted]/" in logged and "/verify-email/[redacted]/" in logged
    assert reset_token not in logged and verify_token not in logged
    if log_format == "json":
        lines = [json.loads(line) for line in logged.splitlines()]
        assert sum(line["logger"] == "gunicorn.access" for line in lines) == 2


def test_redact_keeps_what_carries_no_secret():
    assert redact("GET /password-reset/MQ/set-password/ HTTP/1.1") == "GET /password-reset/MQ/set-password/ HTTP/1.1"
    assert redact("/password-reset/sent/") == "/password-reset/sent/"
    assert redact("/verify-email/again/") == "/verify-email/again/"
    assert redact("/books/?page=2&token=abc&q=x") == "/books/?page=2&token=[redacted]&q=x"


def test_the_request_span_holds_no_token_of_a_link():
    carol = AccountFactory(username="carol", email_verified_at=None)
    token = verification.make_token(carol)

    with recording() as recorded:
        assert Client().get(f"/verify-email/{token}/").status_code == 302

    [request_span] = [span for span in recorded.finished() if span.kind == SpanKind.SERVER]
    recorded_text = " ".join(str(value) for value in request_span.attributes.values())
    assert "/verify-email/[redacted]/" in recorded_text and token not in recorded_text + request_span.name
