import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import AccountFactory


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def signed_in():
    """A client signed in with the account's token: ``signed_in(account)``."""

    def client_for(account):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=account)[0].key}")
        return client

    return client_for


@pytest.fixture
def alice(db):
    return AccountFactory(username="alice")


@pytest.fixture
def bob(db):
    return AccountFactory(username="bob")


@pytest.fixture
def staff(db):
    return AccountFactory(username="operator", is_staff=True)
