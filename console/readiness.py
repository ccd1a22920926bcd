"""The readiness checks of ``/health/`` (``console.health``): django-health-check's
``Database`` check, and ``Migrations`` on its ``HealthCheck`` base. A module
of its own, imported when a readiness probe first runs: importing
django-health-check imports the client of every service it can check."""

import dataclasses

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration the code has is applied: a node whose code runs ahead
    of its schema is not ready."""

    alias: str = DEFAULT_DB_ALIAS

    def run(self):
        connection = connections[self.alias]
        try:
            with connection.temporary_connection():  # a check runs in a worker thread: close what it opens
                executor = MigrationExecutor(connection)
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as error:
            raise ServiceUnavailable("cannot read the applied migrations") from error
        if plan:
            first = plan[0][0]
            raise ServiceUnavailable(f"{len(plan)} migration(s) not applied, from {first.app_label}.{first.name}")


def checks() -> dict[str, HealthCheck]:
    """The checks by name, in the order the answer lists them."""
    return {"database": Database(), "migrations": Migrations()}
