import copy
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from messaging.testing import Scenario
from tests.support.dead_letters import dead_letter
from tests.support.lag import two_policies_behind
from tests.support.troubled import troubled_deliveries

# Markers by directory (the layout mirrors the house, tests/README.md):
# - ``rules``: database-free tests of the rules and value objects;
# - ``interface``: the interfaces alone (HTTP shapes, pages, the admin, the
#   console), whose proof does not depend on the database;
# - ``slow``: whole processes (a browser, gunicorn, Celery, the bench).
# The PostgreSQL pass leaves ``rules`` and ``interface`` to the SQLite one,
# unless a test is marked ``postgres`` itself.
DIRECTORY_MARKERS = {
    "rules": ("rules",),
    "interface": ("interface",),
    "interface/browser": ("slow",),
    "system": ("slow",),
    "reliability": ("slow",),
}
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark each test by its directory; tests marked ``postgres`` prove row
    locks and concurrency, which SQLite cannot show: on SQLite they are
    skipped with that reason. On PostgreSQL the rule and interface tests
    are deselected (the SQLite pass runs them)."""
    for item in items:
        where = Path(item.fspath).resolve().relative_to(_TESTS).parent.as_posix()
        for directory, markers in DIRECTORY_MARKERS.items():
            if where == directory or where.startswith(f"{directory}/"):
                for marker in markers:
                    item.add_marker(marker)
    if connection.vendor == "postgresql":
        elsewhere = [
            item
            for item in items
            if "postgres" not in item.keywords and ("rules" in item.keywords or "interface" in item.keywords)
        ]
        if elsewhere:
            config.hook.pytest_deselected(items=elsewhere)
            deselected = set(map(id, elsewhere))
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
    ``tests.support.dead_letters``."""
    yield from dead_letter(scenario, settings)


@pytest.fixture
def lagging(db):
    """Two policies behind, one per lane; see ``tests.support.lag``."""
    yield from two_policies_behind()


@pytest.fixture
def embedded_database(settings, monkeypatch):
    """Run as on the embedded default, where the demo logins may be made: no
    DATABASE_URL, and the test's SQLite file taken for the one beside the code."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default is an SQLite file")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.EMBEDDED_DATABASE = connection.settings_dict["NAME"]


@pytest.fixture
def troubled(db):
    """One policy's deliveries in every state an operator acts on; see
    ``tests.support.troubled``."""
    yield from troubled_deliveries()
