"""The event log writes fewer index entries per event: ``command_id`` loses
its index (nothing looks events up by it), and ``causation_id``'s gives way
to a partial index of the requests' events only (what the list of recent
requests reads), so the events a policy's command stores write none. Only
the indexes are dropped (Django would rebuild the whole table on SQLite to
alter the fields)."""

from django.db import migrations, models


UNINDEXED = ("command_id", "causation_id")


def drop_the_indexes(apps, schema_editor):
    model = apps.get_model("messaging", "StoredEvent")
    table = model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    for name, constraint in constraints.items():
        if constraint["index"] and not constraint["unique"] and tuple(constraint["columns"]) in {(c,) for c in UNINDEXED}:
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def restore_the_indexes(apps, schema_editor):
    model = apps.get_model("messaging", "StoredEvent")
    for name in UNINDEXED:
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field(name)]))


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_erasure")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_the_indexes, restore_the_indexes)],
            state_operations=[
                migrations.AlterField(model_name="storedevent", name="command_id", field=models.UUIDField()),
                migrations.AlterField(
                    model_name="storedevent", name="causation_id", field=models.UUIDField(blank=True, null=True)
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="storedevent",
            index=models.Index(
                condition=models.Q(("causation_id__isnull", True)), fields=["position"], name="event_of_a_request"
            ),
        ),
    ]
