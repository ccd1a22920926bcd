"""Schema changes that a running release can live beside.

An index built by a plain ``CREATE INDEX`` blocks every write to its table
while it builds: on a large ``Delivery`` or ``StoredEvent`` table, a deploy's
migration would stop the shop for as long. ``AddIndexWithoutLocking``
builds it ``CONCURRENTLY`` on PostgreSQL (writers go on; the migration must
be ``atomic = False``, and holds nothing else) and plainly elsewhere
(SQLite: one process, a small file). See docs/operations.md, "Expand, then
contract".
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations import AddIndex


class AddIndexWithoutLocking(AddIndexConcurrently):
    """``AddIndex`` that never blocks the table's writers on PostgreSQL."""

    def _ensure_not_in_transaction(self, schema_editor):
        if not schema_editor.collect_sql:  # ``sqlmigrate`` (and the migration linter) only writes the SQL down
            super()._ensure_not_in_transaction(schema_editor)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
