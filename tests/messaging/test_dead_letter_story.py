"""The operator's story of one dead letter, on every interface at once: the
shell, the API, check_invariants and /health/ all show it; a retry after the
fault is fixed delivers it exactly once; a discard clears it from all of
them and keeps the row."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from messaging.models import Delivery
from tests.support.factories import AccountFactory


@pytest.fixture
def staff_api():
    client = APIClient()
    client.force_authenticate(AccountFactory(is_staff=True))
    return client


def shell(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def seen_dead(client, staff_api) -> dict:
    """Where the dead letters show, each interface's count of them."""
    table = shell("deliveries", "list", "--status", "dead").splitlines()[1:]
    lines = shell("deliveries", "list", "--status", "dead", "--json").splitlines()
    try:
        shell("check_invariants")
        violations = 0
    except CommandError as error:
        assert error.returncode == 1
        violations = int(str(error).split()[0])
    client.force_login(AccountFactory(is_staff=True))  # /health/'s figures are staff's
    health = client.get("/health/")
    assert health.status_code == 200  # a dead letter never fails readiness
    return {
        "table": len(table),
        "json": len(lines),
        "api": staff_api.get("/api/v1/deliveries/", {"status": "dead"}).data["count"],
        "check_invariants": violations,
        "health": health.json()["deliveries"]["dead"],
    }


def test_a_dead_letter_shows_everywhere_and_a_retry_after_the_fix_delivers_it_once(dead, client, staff_api, settings):
    settings.HEALTH_CACHE_SECONDS = 0
    everywhere = dict.fromkeys(["table", "json", "api", "check_invariants", "health"], 1)
    assert seen_dead(client, staff_api) == everywhere
    assert json.loads(shell("deliveries", "list", "--status", "dead", "--json"))["id"] == dead.row.pk

    dead.service.fix()
    shell("deliveries", "retry", str(dead.row.pk))
    shell("relay_events")  # nothing left for the relay to do again

    assert dead.service.handled == [dead.row.event_id]
    assert seen_dead(client, staff_api) == dict.fromkeys(everywhere, 0)


def test_a_discarded_dead_letter_leaves_every_interface_and_its_row_stays(dead, client, staff_api, settings):
    settings.HEALTH_CACHE_SECONDS = 0

    shell("deliveries", "discard", str(dead.row.pk))

    assert seen_dead(client, staff_api) == dict.fromkeys(["table", "json", "api", "check_invariants", "health"], 0)
    assert Delivery.objects.get(pk=dead.row.pk).status == Delivery.Status.DISCARDED
    assert dead.service.handled == []
