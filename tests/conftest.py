import copy

import pytest
from django.core.cache import cache
from django.db import connection

from messaging.testing import Scenario
from tests.dead_letters import dead_letter

# Tests of the interfaces alone (HTTP shapes, pages, the admin, permission
# matrices, value objects): what they prove does not depend on the database,
# so the PostgreSQL pass leaves them to the SQLite one, unless one is marked
# ``postgres`` itself.
INTERFACE_TESTS = (
    "tests/api/",
    "tests/browser/",
    "tests/interfaces/",
    "/test_pages.py",
    "/test_admin.py",
    "/test_values.py",
    "tests/test_page_permissions.py",
    "tests/test_sign_in_limits.py",
)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` prove row locks and concurrency, which SQLite
    cannot show; on SQLite they are skipped with that reason. On PostgreSQL
    the interface tests are deselected (the SQLite pass runs them)."""
    if connection.vendor == "postgresql":
        interface = [
            item
            for item in items
            if "postgres" not in item.keywords and any(part in item.nodeid for part in INTERFACE_TESTS)
        ]
        if interface:
            config.hook.pytest_deselected(items=interface)
            deselected = set(map(id, interface))
            items[:] = [item for item in items if id(item) not in deselected]
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run by scripts/test on a throwaway cluster)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The default hasher is slow by design; tests need not be."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_limits():
    """The API's throttles and the sign-in limits count in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scenario(django_capture_on_commit_callbacks):
    """Given / when / then on the real bus; see ``messaging.testing``."""
    return Scenario(django_capture_on_commit_callbacks)


@pytest.fixture
def scratch_registry(monkeypatch):
    """The real registry, with whatever a test registers undone afterwards."""
    from messaging.registry import registry

    for name, value in vars(registry).items():
        monkeypatch.setattr(registry, name, copy.deepcopy(value))
    return registry


@pytest.fixture
def dead(db, scenario, settings):
    """A dead-lettered delivery and the service whose fault made it; see
    ``tests.dead_letters``."""
    yield from dead_letter(scenario, settings)


@pytest.fixture
def embedded_database(settings, monkeypatch):
    """Run as on the embedded default, where the demo logins may be made: no
    DATABASE_URL, and the test's SQLite file taken for the one beside the code."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default is an SQLite file")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.EMBEDDED_DATABASE = connection.settings_dict["NAME"]
