import pytest
from rest_framework.test import APIClient

from tests.support.factories import AccountFactory, api_token


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def signed_in():
    """A client signed in with the account's token: ``signed_in(account)``."""

    def client_for(account):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(account)}")
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
