"""The OpenAPI schema: served, and true to what the API answers.

Schemathesis drives every operation in-process from the schema alone, as
staff, the owner of the resources named, another customer and a signed-out
caller (anonymous calls get generated ids), and checks that nothing answers
5xx and that every status, content type, header and body is the one the
schema documents.
"""

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.commands import BlockAccount
from interfaces import api_docs
from interfaces.throttles import (
    OrderPlacementThrottle,
    RegistrationThrottle,
    SignInThrottle,
    VerificationMailThrottle,
)
from messaging import bus
from messaging.models import Delivery
from messaging.registry import registry
from tests.support.factories import AccountFactory, BookFactory, FollowFactory, api_token
from tests.support.stock import place


def test_the_schema_is_built_once_and_then_served_as_built(db, anonymous, monkeypatch):
    # given: no schema built yet in this process, and a count of the builds
    monkeypatch.setattr(api_docs, "_built", {}, raising=False)
    builds = []
    build = SchemaGenerator.get_schema
    monkeypatch.setattr(
        SchemaGenerator, "get_schema", lambda *args, **kwargs: builds.append(1) or build(*args, **kwargs)
    )

    # when: anonymous callers ask for it three times, in both formats
    answers = [
        anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"),
        anonymous.get("/api/v1/schema/"),
        anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"),
    ]

    # then
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[0].json() == answers[2].json()
    assert answers[1].content.startswith(b"openapi: ")
    assert len(builds) == 1


def test_the_schema_is_openapi_3_and_names_every_route(db, anonymous):
    response = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/auth/token/",
        "/api/v1/accounts/",
        "/api/v1/accounts/{id}/",
        "/api/v1/accounts/me/",
        "/api/v1/accounts/me/deactivate/",
        "/api/v1/accounts/me/verification/",
        "/api/v1/accounts/verify-email/",
        "/api/v1/accounts/{id}/follow/",
        "/api/v1/accounts/{id}/unfollow/",
        "/api/v1/accounts/{id}/remove-follower/",
        "/api/v1/accounts/{id}/block/",
        "/api/v1/accounts/{id}/unblock/",
        "/api/v1/accounts/{id}/followers/",
        "/api/v1/accounts/{id}/following/",
        "/api/v1/accounts/{id}/relationship/",
        "/api/v1/books/",
        "/api/v1/books/{id}/",
        "/api/v1/books/{id}/restock/",
        "/api/v1/orders/",
        "/api/v1/orders/{id}/",
        "/api/v1/orders/{id}/confirm/",
        "/api/v1/orders/{id}/ship/",
        "/api/v1/orders/{id}/cancel/",
        "/api/v1/events/",
        "/api/v1/deliveries/",
        "/api/v1/deliveries/{id}/",
        "/api/v1/deliveries/{id}/retry/",
        "/api/v1/deliveries/{id}/discard/",
    } <= set(schema["paths"])


def test_each_refusal_code_the_schema_names_is_under_the_status_its_declaration_gives(db, anonymous):
    schema = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    named = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                listed = re.search(r"Codes: ([a-z_, ]+)\.", response.get("description", ""))
                for code in listed.group(1).split(", ") if listed else ():
                    named.append((code, int(status), f"{method.upper()} {path}"))

    assert {"blocked", "insufficient_stock", "idempotency_key_reused"} <= {code for code, _, _ in named}
    assert [(code, status, where) for code, status, where in named if registry.refusal(code).status != status] == []


def test_the_schema_documents_token_and_bearer_authentication_and_a_form_sign_in(db, anonymous):
    # when
    schema = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    # then
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["description"] == 'Token-based authentication with required prefix "Token"'
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    sign_in = schema["paths"]["/api/v1/auth/token/"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} <= set(sign_in)


def test_the_docs_page_works_offline(db, anonymous):
    response = anonymous.get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in response.content
    assert b"//cdn" not in response.content


SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# A malformed request must still get a 4xx in the documented shape; which
# 4xx depends on which part was malformed, so the status is not checked.
MALFORMED_CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


@pytest.fixture
def unthrottled(monkeypatch):
    monkeypatch.setitem(SignInThrottle.THROTTLE_RATES, "auth", "10000/min")
    monkeypatch.setitem(RegistrationThrottle.THROTTLE_RATES, "registration", "10000/min")
    monkeypatch.setitem(OrderPlacementThrottle.THROTTLE_RATES, "orders", "10000/min")
    monkeypatch.setitem(VerificationMailThrottle.THROTTLE_RATES, "verification", "10000/min")


@pytest.fixture
def connection_kept_open():
    """Django closes the database connection when a request ends, which would
    end the test's transaction; its test client prevents that, and so must
    a bare WSGI call."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Staff reach every branch, so they get the most examples; the other callers
# mostly meet 401, 403 and 404, which a few examples cover (CI stays short).
CALLERS = {"staff": 10, "owner": 4, "other": 3, "anonymous": 3}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "operation", [result.ok() for result in SCHEMA.get_all_operations()], ids=lambda operation: operation.label
)
def test_no_input_breaks_the_api_or_its_schema(db, unthrottled, connection_kept_open, operation, caller):
    # given: the owner's account with follows, a book, the owner's order and a dead delivery, one of them
    # named in the path (or, generated, any id at all); each caller with their token
    owner = AccountFactory()
    callers = {"owner": owner, "other": AccountFactory(), "staff": AccountFactory(is_staff=True)}
    FollowFactory(followee=owner)
    FollowFactory(follower=owner)
    book = BookFactory()
    order = bus.dispatch(place(owner, (book, 1))).events[0]
    blocked = bus.dispatch(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk)).events[0]
    delivery = Delivery.objects.get(event_id=blocked.event_id)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DEAD)  # so retry and discard answer 200 once
    named = {"accounts": owner.pk, "books": book.pk, "orders": order.order_id, "deliveries": delivery.pk}
    resource = operation.path.split("/")[3]
    in_path = {"id": str(named[resource])} if "{id}" in operation.path and caller != "anonymous" else None
    headers = {}
    if caller != "anonymous":
        headers["Authorization"] = f"Token {api_token(callers[caller])}"

    # when / then: inputs the schema allows, then inputs it does not (malformed bodies, ids, queries)
    for mode, checks in ((GenerationMode.POSITIVE, CHECKS), (GenerationMode.NEGATIVE, MALFORMED_CHECKS)):

        @given(case=operation.as_strategy(mode, path_parameters=in_path))
        @settings(max_examples=CALLERS[caller], deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            case.call_and_validate(headers=headers, checks=checks)  # noqa: B023 (called at once, in this round)

        call()
