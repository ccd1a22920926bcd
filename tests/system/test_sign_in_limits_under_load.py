"""Sign-in limits hold under parallel guesses: gunicorn with threads (and
several workers sharing Redis) on PostgreSQL, 40 guesses sent at once.

Each attempt is counted, atomically, before its password is checked, so at
most the limit of them are ever evaluated; the others answer 429 at once.
"""

import http.cookiejar
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.support import gunicorn as served
from tests.support.factories import AccountFactory
from tests.support.redis_server import throwaway_redis
from tests.support.subprocesses import database_url

PASSWORD = "correct-horse-battery"
GUESSES = 40
LIMIT = 5


@pytest.fixture
def mallory_target(transactional_db):
    """An account whose password is hashed as production hashes it: slow, so
    parallel guesses overlap the check."""
    account = AccountFactory(username="target")
    account.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    account.save(update_fields=["password"])
    return account


def serve(log, *options, workers=1, cache_url="locmemcache://"):
    """gunicorn on the test database, its own lines (one per failed sign-in
    among them) written to ``log``."""
    port = served.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CACHE_URL": cache_url,
        "SIGN_IN_FAILURES_PER_USERNAME": str(LIMIT),
        "SIGN_IN_FAILURES_PER_ADDRESS": "100",
        "THROTTLE_RATE_AUTH": "1000/min",
    }
    server = served.start(port, "--access-logfile", "/dev/null", *options, workers=workers, env=env, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/health/live/", timeout=5).close()
            return server, base
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def token_guess(base):
    def guess(password):
        body = json.dumps({"username": "target", "password": password}).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/auth/token/", data=body, headers={"Content-Type": "application/json"}
        )
        return _status(request)

    return guess


def page_guess(base):
    """A login form, its CSRF cookie and token fetched once and sent with every guess."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)

    def guess(password):
        body = urllib.parse.urlencode(
            {"username": "target", "password": password, "csrfmiddlewaretoken": token}
        ).encode()
        headers = {"Cookie": cookie, "Referer": f"{base}/login/"}
        return _status(urllib.request.Request(f"{base}/login/", data=body, headers=headers))

    return guess


def evaluated_failures(log) -> int:
    """The failed sign-ins the server logged: the guesses whose password it checked."""
    return log.read_text().count("Failed sign-in from")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(request) -> int:
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as answer:
        return answer.code


def in_parallel(guess, passwords):
    statuses = [None] * len(passwords)
    start = threading.Barrier(len(passwords))

    def run(index):
        start.wait()
        statuses[index] = guess(passwords[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(passwords))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


# each way in, and the status that says it signed in
WAYS_IN = [pytest.param(token_guess, 200, id="API token"), pytest.param(page_guess, 302, id="login page")]


@pytest.mark.postgres
@pytest.mark.parametrize(("way_in", "signed_in"), WAYS_IN)
def test_forty_parallel_guesses_on_threads_have_at_most_the_limit_evaluated(
    mallory_target, way_in, signed_in, tmp_path
):
    # given gunicorn with 8 threads, as GUNICORN_THREADS=8 serves
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        server, base = serve(stderr, "--threads", "8")
    try:
        guess = way_in(base)

        # when 39 wrong guesses and the right one arrive together
        statuses = in_parallel(guess, [f"guess-{n}" for n in range(GUESSES - 1)] + [PASSWORD])
    finally:
        server.terminate()
        server.wait(timeout=20)

    # then at most the limit were checked (each failure is logged, a success
    # answers 200 or 302); every other one was refused before its check
    failures = evaluated_failures(log)
    successes = statuses.count(signed_in)
    assert failures + successes <= LIMIT, (failures, statuses)
    assert statuses.count(429) >= GUESSES - LIMIT, statuses


@pytest.mark.postgres
def test_forty_parallel_guesses_on_three_workers_sharing_redis_have_at_most_the_limit_evaluated(
    mallory_target, tmp_path
):
    # given three sync workers counting in one Redis
    log = tmp_path / "gunicorn.log"
    with throwaway_redis() as redis, log.open("w") as stderr:
        server, base = serve(stderr, workers=3, cache_url=redis.url.replace("/0", "/1"))
        try:
            # when 40 wrong guesses arrive together
            statuses = in_parallel(token_guess(base), [f"guess-{n}" for n in range(GUESSES)])
        finally:
            server.terminate()
            server.wait(timeout=20)

    # then at most the limit were checked
    assert evaluated_failures(log) <= LIMIT, statuses
    assert statuses.count(429) >= GUESSES - LIMIT, statuses
    assert set(statuses) <= {400, 429}, statuses


def test_the_deploy_checks_refuse_a_cache_that_cannot_count_atomically():
    result = subprocess.run(
        [".venv/bin/python", "manage.py", "check", "--deploy", "--tag", "security"],
        env={**os.environ, "CACHE_URL": "dbcache://throttle_cache"},
        capture_output=True,
        text=True,
    )

    assert "interfaces.W001" in result.stderr + result.stdout
