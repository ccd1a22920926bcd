"""Seal the personal data stored in clear before it was declared
(``accounts.sealing``): in batches, each committed on its own, so a migration
that stops resumes where it stopped when ``migrate`` runs again."""

from django.db import migrations


def seal(apps, schema_editor):
    from accounts import sealing

    sealing.seal_history(erasures=apps.get_model("messaging", "Erasure"), progress=lambda what, done: print(f"  {what}: {done}"))


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own

    dependencies = [
        ("accounts", "0004_follow_counts_projected_inline"),
        ("messaging", "0012_personal_data_keys"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]
    run_before = [("messaging", "0013_erasures_superseded_by_keys")]

    operations = [migrations.RunPython(seal, migrations.RunPython.noop, elidable=True)]
