"""The erasures that searched for copies are gone: forgetting throws away a
key now. Runs after the accounts' migration that sealed the history
(``accounts.0005``, which finishes any erasure still in progress)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("messaging", "0012_personal_data_keys")]

    operations = [migrations.DeleteModel(name="Erasure")]
