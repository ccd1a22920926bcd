"""Signing up as a person does, through the API: the sign-up (202, the same
answer for any address), then the verification link from the mail, its
token made as the mail's renderer makes it."""

from rest_framework.test import APIClient

from accounts import verification
from accounts.models import Account


def sign_up(person: dict, *, key: str | None = None, verify: bool = True) -> Account:
    """Sign ``person`` (``username``, ``email``, ``password``) up through the
    API, with ``key`` as the sign-up's and the verification's
    Idempotency-Key when given, and verify the address unless ``verify`` is false."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    answer = APIClient().post("/api/v1/accounts/", person, format="json", **headers)
    assert answer.status_code == 202, answer.content
    account = Account.objects.get(username=person["username"])
    if verify:
        headers = {"HTTP_IDEMPOTENCY_KEY": f"verify-{key}"} if key else {}
        token = verification.make_token(account)
        verified = APIClient().post("/api/v1/accounts/verify-email/", {"token": token}, format="json", **headers)
        assert verified.status_code == 200, verified.content
        account.refresh_from_db()
    return account
