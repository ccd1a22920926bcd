"""/metrics: the outbox's figures per policy and lane for Prometheus,
scraped for real (over HTTP from a live server), with the scrape token or
as staff; nobody else."""

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.factories import AccountFactory
from tests.support.lag import IN_DATABASE, OUTSIDE, two_policies_behind

TOKEN = "scrape-token-for-tests"
NODE = "10.0.0.5:8000"  # not in ALLOWED_HOSTS: how Prometheus addresses a node


@pytest.fixture
def scrape_token(settings):
    settings.METRICS_SCRAPE_TOKEN = TOKEN


def gauges(text: str) -> dict[tuple[str, tuple], float]:
    """Each sample as ``(name, ((label, value), ...)) -> value``."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def lane(name: str, policy: str, lane: str) -> tuple[str, tuple]:
    return f"messaging_deliveries_{name}", (("lane", lane), ("policy", policy))


@pytest.fixture
def committed_lag(transactional_db, settings):
    """``two_policies_behind``, committed (the live server's thread reads
    only commits), with nothing delivered on commit."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    yield from two_policies_behind()


def test_prometheus_scrapes_each_policy_and_lane_with_its_token(committed_lag, scrape_token, live_server):
    request = urllib.request.Request(f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    with urllib.request.urlopen(request) as response:
        content_type, text = response.headers["Content-Type"], response.read().decode()

    assert content_type.startswith("text/plain; version=")
    found = gauges(text)
    assert found[lane("waiting", IN_DATABASE, "database")] == 2
    assert found[lane("failed", IN_DATABASE, "database")] == 1
    assert found[lane("due", IN_DATABASE, "database")] == 1
    assert 115 <= found[lane("oldest_due_age_seconds", IN_DATABASE, "database")] <= 180
    assert found[lane("held", OUTSIDE, "outside")] == 1
    assert found[lane("done_per_minute", OUTSIDE, "outside")] == 0.2  # one done in the last 5 minutes
    assert found[("messaging_deliveries_dead", ())] == 0


@pytest.mark.django_db
def test_the_token_is_honoured_for_a_nodes_address_over_plain_http(lagging, scrape_token, client, settings):
    settings.DEBUG, settings.SECURE_SSL_REDIRECT = False, True

    scraped = client.get("/metrics", HTTP_HOST=NODE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert scraped.status_code == 200
    assert gauges(scraped.text)[lane("waiting", OUTSIDE, "outside")] == 2


@pytest.mark.django_db
def test_staff_signed_in_see_the_figures_others_are_refused(lagging, scrape_token, client):
    anonymous = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    client.force_login(AccountFactory())
    customer = client.get("/metrics")
    client.force_login(AccountFactory(is_staff=True))
    staff = client.get("/metrics")

    assert (anonymous.status_code, anonymous["WWW-Authenticate"]) == (401, 'Bearer realm="metrics"')
    assert wrong.status_code == 401
    assert customer.status_code == 403
    assert staff.status_code == 200
    assert gauges(staff.text)[lane("waiting", IN_DATABASE, "database")] == 2


@pytest.mark.django_db
def test_without_a_token_set_no_bearer_opens_it(lagging, client, settings):
    settings.METRICS_SCRAPE_TOKEN = ""

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 401


def test_a_refused_scrape_over_http(committed_lag, live_server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_server.url}/metrics")

    assert refused.value.code == 401
