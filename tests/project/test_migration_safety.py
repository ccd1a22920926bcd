"""Every migration of ours only expands the schema, so that the release
before keeps running on it during a rolling deploy (docs/operations.md,
"Expand, then contract"): django-migration-linter reads the SQL each one
runs on PostgreSQL and refuses what the release before could not live
beside (a column or table dropped or renamed, a NOT NULL column added
without a default the database knows, a column made NOT NULL...).

A contract step (dropping what no running release uses any more) is made
on purpose, in a release of its own: it is named in ``CONTRACTS`` with why
it is safe. The migrations from before this check are named there as they
are, a baseline."""

import contextlib
import io
import uuid

import pytest
from django.apps import apps
from django.db import connection, migrations, models
from django.db.migrations.state import ProjectState
from django_migration_linter import MigrationLinter
from django_migration_linter.sql_analyser.analyser import analyse_sql_statements
from django_migration_linter.sql_analyser.postgresql import PostgresqlAnalyser

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OUR_APPS = ["accounts", "catalog", "orders", "messaging"]

# The baseline: made before this check, each needs the release before
# stopped first (a rolling deploy across it is not safe).
CONTRACTS = {
    ("messaging", "0004_delivery_lease_outside_discarded"): "`outside` NOT NULL, its default in Python only",
    ("messaging", "0007_stored_event_trace_id"): "`trace_id` NOT NULL, its default in Python only",
    ("messaging", "0013_erasures_superseded_by_keys"): "drops the erasures, which personal data keys replaced",
    ("messaging", "0015_subscription_pruned_to"): "`pruned_to` NOT NULL, its default in Python only",
    # After the check: the linter flags `event_version`'s NOT NULL although the database
    # has its default (db_default 1), so the release before inserts its rows unchanged;
    # main@812fc69's processes ran beside this schema and all 12 rules held.
    ("messaging", "0019_policy_identities_and_workers"): "`event_version` NOT NULL with db_default 1",
}
"""The contract steps, each with why it may run: (app, migration) -> reason."""

# Indexes built with a plain CREATE INDEX, which blocks the table's writers
# while it builds, before ``messaging.schema.AddIndexWithoutLocking``; every
# index since is built CONCURRENTLY on PostgreSQL.
LOCKING_INDEXES = [
    ("catalog", "0002_book_catalog_order_index"),
    ("messaging", "0011_event_log_indexes_leaner"),
    ("messaging", "0017_delivery_ordering_key"),
    ("messaging", "0020_delivery_done_at_index"),
    ("orders", "0002_order_page_indexes"),
]


class ContractsAllowed(MigrationLinter):
    """The linter, passing the migrations named in ``contracts`` by app and name
    (its own ``ignore_name`` matches a name in every app)."""

    def __init__(self, contracts, **options):
        super().__init__(**options)
        self.contracts = set(contracts)
        self.erroneous: list[tuple[str, str]] = []

    def should_ignore_migration(self, app_label, migration_name, *args, **kwargs):
        if (app_label, migration_name) in self.contracts:
            return True
        return super().should_ignore_migration(app_label, migration_name, *args, **kwargs)

    def print_linting_msg(self, app_label, migration_name, msg, lint_result):
        if msg.startswith("ERR"):
            self.erroneous.append((app_label, migration_name))
        super().print_linting_msg(app_label, migration_name, msg, lint_result)


def lint(contracts, refusing=()) -> tuple[ContractsAllowed, str]:
    """Lint every migration of ours but ``contracts``, the linter's warnings
    ``refusing`` (codes) taken as errors: the linter and what it said."""
    linter = ContractsAllowed(
        contracts, include_apps=OUR_APPS, no_cache=True, quiet=["ok", "ignore"], warnings_as_errors_tests=refusing
    )
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        linter.lint_all_migrations()
        linter.print_summary()
    return linter, said.getvalue()


def test_every_migration_of_ours_only_expands_the_schema_or_is_a_named_contract_step():
    linter, said = lint(CONTRACTS)

    assert not linter.has_errors, (
        f"{said}\nA migration the release before could not run beside: make it expand only (a column nullable or "
        "with db_default, a table or index added) and contract in a later release, or name it in CONTRACTS "
        "with why it is safe (docs/operations.md, 'Expand, then contract')."
    )


def test_each_named_contract_step_is_one_the_linter_refuses():
    """Without its name, each contract step fails the check: the list holds no
    migration that needs no pass (and the linter sees what it must)."""
    linter, said = lint(contracts=[])

    assert sorted(linter.erroneous) == sorted(CONTRACTS), said
    assert "NOT NULL constraint on columns" in said and "DROPPING table (table: messaging_erasure)" in said


def test_every_index_since_the_baseline_is_built_without_blocking_writers():
    linter, said = lint([*CONTRACTS, *LOCKING_INDEXES], refusing=["CREATE_INDEX"])

    assert not linter.has_errors, (
        f"{said}\nA plain CREATE INDEX blocks the table's writers while it builds: add the index with "
        "messaging.schema.AddIndexWithoutLocking, in a migration of its own with atomic = False."
    )


def test_each_index_of_the_baseline_is_one_built_with_a_plain_create_index():
    linter, said = lint(CONTRACTS, refusing=["CREATE_INDEX"])

    assert sorted(linter.erroneous) == sorted(LOCKING_INDEXES), said


def sql_of(operation) -> list[str]:
    """The SQL ``operation`` runs on messaging's ``Subscription`` table, on this database."""
    before = ProjectState.from_apps(apps)
    after = before.clone()
    operation.state_forwards("messaging", after)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_forwards("messaging", editor, before, after)
    return editor.collected_sql


# What docs/operations.md ("Expand, then contract") calls expanding and
# contracting, as the SQL Django 6.1 writes for it: the linter must agree.
EXPAND = {
    "a NOT NULL column with a db_default": migrations.AddField(
        "subscription", "weight", models.IntegerField(db_default=0)
    ),
    "a nullable column": migrations.AddField("subscription", "note", models.TextField(null=True)),
    "an index": migrations.AddIndex(
        "subscription", models.Index(fields=["pruned_to"], name="subscription_pruned_to_idx")
    ),
}
CONTRACT = {
    "a NOT NULL column with a default in Python only": migrations.AddField(
        "subscription", "weight", models.IntegerField(default=0)
    ),
    "a column dropped": migrations.RemoveField("subscription", "pruned_to"),
    "a column renamed": migrations.RenameField("subscription", "pruned_to", "pruned_up_to"),
    "a column made NOT NULL": migrations.AlterField("delivery", "lease", models.UUIDField(default=uuid.uuid4)),
}


@pytest.mark.parametrize("operation", EXPAND.values(), ids=EXPAND.keys())
def test_what_the_runbook_calls_expanding_passes_the_linter(operation):
    errors, _, _ = analyse_sql_statements(PostgresqlAnalyser, sql_of(operation), [])
    assert errors == []


@pytest.mark.parametrize("operation", CONTRACT.values(), ids=CONTRACT.keys())
def test_what_the_runbook_calls_contracting_fails_the_linter(operation):
    errors, _, _ = analyse_sql_statements(PostgresqlAnalyser, sql_of(operation), [])
    assert errors, sql_of(operation)
