"""/health/ (readiness) and /health/live/ (liveness), as a load balancer
calls them: by the node's address, over plain HTTP."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from accounts.commands import FollowAccount
from accounts.models import ApiToken
from messaging import bus
from tests.support.dead_letters import POLICY
from tests.support.factories import AccountFactory
from tests.support.lag import IN_DATABASE, OUTSIDE

NODE = "10.0.0.5:8000"  # not in ALLOWED_HOSTS: how a load balancer addresses a node


@pytest.fixture(autouse=True)
def fresh_answers(settings):
    """Each request runs the checks (the caching test sets its own window)."""
    settings.HEALTH_CACHE_SECONDS = 0


@pytest.fixture
def staff_client(client):
    """An operator signed in on the site: ``/health/`` shows them its figures."""
    client.force_login(AccountFactory(is_staff=True))
    return client


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True


def test_liveness_answers_for_any_host_and_touches_no_database(client, production):
    # no database access is allowed in this test: pytest-django would fail it
    response = client.get("/health/live/", HTTP_HOST=NODE)

    assert (response.status_code, response.json()) == (200, {"status": "alive"})
    assert "no-cache" in response["Cache-Control"]


def test_anyone_is_told_ready_or_not_and_nothing_more(dead, client):
    response = client.get("/health/", HTTP_HOST=NODE)

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_a_signed_in_customer_gets_the_public_answer(dead, client):
    client.force_login(AccountFactory())

    response = client.get("/health/")

    assert (response.status_code, response.json()) == (200, {"status": "ready"})


def test_staff_signed_in_by_token_see_the_figures(dead, client):
    _, token = ApiToken.objects.create(AccountFactory(is_staff=True))

    response = client.get("/health/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.json()["deliveries"]["dead"] == 1


def test_a_ready_node_answers_staff_200_with_each_check_and_the_deliveries(db, staff_client):
    response = staff_client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "migrations": {"status": "ok"}},
        "deliveries": {
            "backlog": 0,
            "oldest_due_seconds": None,
            "dead": 0,
            "held": 0,
            "backfill": 0,
            "unknown": 0,
            "schedules": {"overdue": 0, "oldest_overdue_seconds": None, "last_sweep_seconds_ago": None},
            "lag": [],
        },  # fmt: skip
    }


def test_readiness_answers_any_host_over_plain_http_where_everything_else_is_refused(db, client, production):
    ready = client.get("/health/", HTTP_HOST=NODE)
    also = client.get("/health", HTTP_HOST=NODE)
    home_by_address = client.get("/", HTTP_HOST=NODE)
    home_by_name = client.get("/", HTTP_HOST="localhost")

    assert (ready.status_code, also.status_code) == (200, 200)
    assert home_by_address.status_code == 400  # ALLOWED_HOSTS still guards every other path
    assert (home_by_name.status_code, home_by_name["Location"]) == (301, "https://localhost/")


def test_a_dead_letter_is_reported_but_never_fails_readiness(dead, staff_client):
    response = staff_client.get("/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["deliveries"]["dead"] == 1


def test_the_answer_is_reused_for_the_cache_window(dead, staff_client, settings):
    client = staff_client
    # given: an answer made now, counting the dead letter
    assert client.get("/health/").json()["deliveries"]["dead"] == 1
    settings.HEALTH_CACHE_SECONDS = 60
    call_command("deliveries", "discard", str(dead.row.pk), stdout=io.StringIO())

    # when / then: within the window, the same answer; after it, a fresh one
    assert client.get("/health/").json()["deliveries"]["dead"] == 1
    settings.HEALTH_CACHE_SECONDS = 0
    assert client.get("/health/").json()["deliveries"]["dead"] == 0


@pytest.mark.django_db(transaction=True)  # the checks run on connections of their own: they see only commits
def test_a_node_whose_migrations_are_not_all_applied_is_not_ready(client):
    recorder = MigrationRecorder(connection)
    [(_, latest)] = MigrationLoader(connection).graph.leaf_nodes("messaging")
    recorder.record_unapplied("messaging", latest)
    try:
        public = client.get("/health/", HTTP_HOST=NODE)
        client.force_login(AccountFactory(is_staff=True))
        response = client.get("/health/")
    finally:
        recorder.record_applied("messaging", latest)

    assert (public.status_code, public.json()) == (503, {"status": "unavailable"})
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["migrations"] == {
        "status": "unavailable",
        "detail": f"Unavailable: 1 migration(s) not applied, from messaging.{latest}",
    }


def test_only_get_and_head_are_answered(db, client):
    assert client.post("/health/").status_code == 405
    assert client.head("/health/live/").status_code == 200


def test_open_deliveries_due_are_the_backlog(dead, staff_client):
    client = staff_client
    # given: a follow whose deliveries stay pending (no commit runs them in a test transaction)
    bus.dispatch(FollowAccount(follower_id=AccountFactory().pk, followee_id=AccountFactory().pk))

    # when
    deliveries = client.get("/health/").json()["deliveries"]

    # then: the test policy's (the counts are no delivery); the dead letter is counted apart
    assert [(row["policy"], row["due"]) for row in deliveries.pop("lag")] == [(POLICY, 1)]
    assert deliveries == {
        "backlog": 1,
        "oldest_due_seconds": 0,
        "dead": 1,
        "held": 0,
        "backfill": 0,
        "unknown": 0,
        "schedules": {"overdue": 0, "oldest_overdue_seconds": None, "last_sweep_seconds_ago": None},
    }


def test_staff_see_the_lag_of_each_policy_and_lane(lagging, staff_client):
    response = staff_client.get("/health/")

    lag = {(row["policy"], row["lane"]): row for row in response.json()["deliveries"]["lag"]}
    assert set(lag) == {(IN_DATABASE, "database"), (OUTSIDE, "outside")}
    assert (lag[IN_DATABASE, "database"]["waiting"], lag[IN_DATABASE, "database"]["due"]) == (2, 1)
    assert lag[OUTSIDE, "outside"]["held"] == 1
    assert response.status_code == 200  # no threshold set: lag never fails readiness


def test_a_node_is_not_ready_when_the_oldest_due_delivery_waited_past_the_threshold(lagging, staff_client, settings):
    settings.MESSAGING_READY_MAX_LAG_SECONDS = 600
    within = staff_client.get("/health/")
    settings.MESSAGING_READY_MAX_LAG_SECONDS = 60  # the due one has waited 2 minutes

    behind = staff_client.get("/health/")
    public = Client().get("/health/", HTTP_HOST=NODE)

    assert (within.status_code, within.json()["checks"]["deliveries"]) == (200, {"status": "ok"})
    assert behind.status_code == 503
    detail = behind.json()["checks"]["deliveries"]["detail"]
    assert detail.startswith("the oldest due delivery has waited 1")
    assert detail.endswith("s, over MESSAGING_READY_MAX_LAG_SECONDS (60)")
    assert (public.status_code, public.json()) == (503, {"status": "unavailable"})


def test_a_node_is_not_ready_when_more_rows_are_due_than_the_threshold(lagging, staff_client, settings):
    settings.MESSAGING_READY_MAX_BACKLOG = 0

    response = staff_client.get("/health/")

    assert response.status_code == 503
    assert response.json()["checks"]["deliveries"] == {
        "status": "unavailable",
        "detail": "3 deliveries are due, over MESSAGING_READY_MAX_BACKLOG (0)",
    }
