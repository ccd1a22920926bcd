"""The copies each customer's pending orders hold become a counter row per
customer (``HeldCopies``), filled here from the pending orders' items: the
cap reads and locks it in one statement instead of an advisory lock and a
SUM."""

from django.db import migrations, models
from django.db.models import Sum


def count_held_copies(apps, schema_editor):
    OrderItem = apps.get_model("orders", "OrderItem")
    HeldCopies = apps.get_model("orders", "HeldCopies")
    held = (
        OrderItem.objects.filter(order__status="PENDING")
        .values("order__customer_id")
        .annotate(copies=Sum("quantity"))
        .values_list("order__customer_id", "copies")
    )
    HeldCopies.objects.bulk_create(
        (HeldCopies(customer_id=customer_id, copies=copies) for customer_id, copies in held.iterator()),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_expiry_deadlines_become_schedules"),
    ]

    operations = [
        migrations.CreateModel(
            name="HeldCopies",
            fields=[
                ("customer_id", models.UUIDField(primary_key=True, serialize=False)),
                ("copies", models.IntegerField(default=0)),
            ],
            options={
                "verbose_name_plural": "held copies",
            },
        ),
        migrations.RunPython(count_held_copies, migrations.RunPython.noop),
    ]
