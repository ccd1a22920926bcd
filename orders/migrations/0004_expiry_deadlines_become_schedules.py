"""Orders placed before schedules waited on a delayed delivery of
``orders.policies.expire_unconfirmed_order``, a policy that no longer
exists: each open one becomes the order's ``ExpireOrder`` schedule, due when
the delivery was, and the delivery is discarded (the ledger keeps it)."""

from django.db import migrations

DEADLINE = "orders.policies.expire_unconfirmed_order"
OPEN = ("pending", "failed")


def deadlines_become_schedules(apps, schema_editor):
    Delivery = apps.get_model("messaging", "Delivery")
    ScheduledCommand = apps.get_model("messaging", "ScheduledCommand")
    Order = apps.get_model("orders", "Order")
    deadlines = Delivery.objects.filter(policy=DEADLINE, status__in=OPEN).select_related("event")
    for deadline in deadlines.iterator():
        event, order_id = deadline.event, deadline.event.payload["order_id"]
        if Order.objects.filter(pk=order_id, status="PENDING").exists():
            ScheduledCommand.objects.create(
                schedule_id=event.event_id,
                key=f"ExpireOrder:{order_id}",
                command_type="ExpireOrder",
                payload={"order_id": order_id},
                not_before=deadline.next_attempt_at,
                correlation_id=event.correlation_id,
                scheduled_by=event.command_id,
                actor_id=event.actor_id,
            )
        deadline.status, deadline.lease = "discarded", None
        deadline.save(update_fields=["status", "lease"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_drop_orderitem_order_index_covered_by_unique"),
        ("messaging", "0009_scheduled_commands"),
    ]

    operations = [migrations.RunPython(deadlines_become_schedules, migrations.RunPython.noop)]
