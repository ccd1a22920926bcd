"""The event log's ``command_id`` loses its index: nothing looks events up
by it, and every appended event wrote it. Only the index is dropped (Django
would rebuild the whole table on SQLite to alter the field)."""

from django.db import migrations, models


def drop_the_index(apps, schema_editor):
    model = apps.get_model("messaging", "StoredEvent")
    table = model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    for name, constraint in constraints.items():
        if constraint["index"] and not constraint["unique"] and constraint["columns"] == ["command_id"]:
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def restore_the_index(apps, schema_editor):
    model = apps.get_model("messaging", "StoredEvent")
    schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field("command_id")]))


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_erasure")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_the_index, restore_the_index)],
            state_operations=[
                migrations.AlterField(model_name="storedevent", name="command_id", field=models.UUIDField()),
            ],
        )
    ]
