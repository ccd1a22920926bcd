"""Who may call what: anonymous, the account itself, another user, staff.

Each row names an endpoint acting on the owner's account (``{owner}``)
and the status each caller gets. Sign-in is needed everywhere but
registration, tokens and the schema: without it the answer is 401.
"""

import pytest
from rest_framework.test import APIClient

from tests.factories import AccountFactory

PASSWORD = "correct-horse-battery"
REGISTRATION = {"email": "new@example.com", "username": "newcomer", "password": PASSWORD}

# method, path, body, then the status for each of CALLERS in turn
MATRIX = [
    ("get", "/api/v1/accounts/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/", REGISTRATION, 201, 201, 201, 201),
    ("get", "/api/v1/accounts/{owner}/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/me/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/me/deactivate/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/follow/", None, 401, 409, 201, 201),
    ("post", "/api/v1/accounts/{owner}/unfollow/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/remove-follower/", None, 401, 200, 200, 200),
    ("post", "/api/v1/accounts/{owner}/block/", None, 401, 409, 201, 201),
    ("post", "/api/v1/accounts/{owner}/unblock/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/followers/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/following/", None, 401, 200, 200, 200),
    ("get", "/api/v1/accounts/{owner}/relationship/", None, 401, 200, 200, 200),
    ("post", "/api/v1/auth/token/", {"username": "owner", "password": PASSWORD}, 200, 200, 200, 200),
    ("get", "/api/v1/events/", None, 401, 403, 403, 200),
    ("get", "/api/v1/schema/", None, 200, 200, 200, 200),
    ("get", "/api/v1/docs/", None, 200, 200, 200, 200),
]
CALLERS = ["anonymous", "owner", "other", "staff"]


@pytest.mark.parametrize(
    ("method", "path", "body", "caller", "expected"),
    [
        pytest.param(method, path, body, caller, statuses[index], id=f"{method} {path} as {caller}")
        for method, path, body, *statuses in MATRIX
        for index, caller in enumerate(CALLERS)
    ],
)
def test_each_caller_gets_the_status_the_contract_gives(db, method, path, body, caller, expected):
    # given
    owner = AccountFactory(username="owner")
    callers = {"owner": owner, "other": AccountFactory(), "staff": AccountFactory(is_staff=True)}
    client = APIClient()
    if caller != "anonymous":
        client.force_authenticate(callers[caller])

    # when
    response = getattr(client, method)(path.format(owner=owner.pk), body, format="json")

    # then
    assert response.status_code == expected, getattr(response, "data", response.content[:200])
