"""The lanes' two partial indexes, built without blocking the ledger's
writers on PostgreSQL (``messaging.schema``): a migration of their own,
outside a transaction, so that nothing else waits on them."""

from django.db import migrations, models

from messaging.schema import AddIndexWithoutLocking


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0021_delivery_lanes"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("lane__isnull", True), ("status__in", ["pending", "failed"])),
                fields=["next_attempt_at", "id"],
                name="delivery_live_due",
            ),
        ),
        AddIndexWithoutLocking(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("lane", "backfill"), ("status__in", ["pending", "failed"])),
                fields=["next_attempt_at", "id"],
                name="delivery_backfill_due",
            ),
        ),
    ]
