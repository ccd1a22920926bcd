"""Accounts verify their e-mail address by a link. Those that existed before
count as verified (since they joined): nothing asked them to, and taking
their orders away would punish them for our change."""

from django.db import migrations, models
from django.db.models import F


def verified_since_joining(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    Account.objects.filter(email_verified_at__isnull=True).update(email_verified_at=F("date_joined"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_hash_old_api_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="email_verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(verified_since_joining, migrations.RunPython.noop, elidable=True),
    ]
