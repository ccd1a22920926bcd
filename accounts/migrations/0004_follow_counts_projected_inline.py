"""The follower counts became an inline projection (run in the transaction
that appends each follow event): the four projector policies are retired.

Their deliveries still open or dead-lettered would never take effect now
(the relay knows no such policy: each would fail until dead-lettered), so
they go, and the counts of the accounts their events touched are set from
the ``Follow`` rows, which is what those deliveries would have made them.
Done and discarded deliveries stay, as the history of what ran."""

from django.db import migrations
from django.db.models import Count

RETIRED = [
    "accounts.projections.open_stats",
    "accounts.projections.count_follow",
    "accounts.projections.count_unfollow",
    "accounts.projections.count_severed",
]
UNSETTLED = ["pending", "failed", "dead"]
CHUNK = 500


def touched_accounts(payload: dict) -> set[str]:
    """The accounts whose counts an event of the retired policies moves."""
    ids = {payload.get(key) for key in ("account_id", "follower_id", "followee_id")}
    ids.update(payload.get("followers", ()))
    ids.update(payload.get("followees", ()))
    return {str(account_id) for account_id in ids if account_id}


def retire_the_projector_deliveries(apps, schema_editor):
    Delivery = apps.get_model("messaging", "Delivery")
    Account = apps.get_model("accounts", "Account")
    AccountStats = apps.get_model("accounts", "AccountStats")
    Follow = apps.get_model("accounts", "Follow")
    unsettled = Delivery.objects.filter(policy__in=RETIRED, status__in=UNSETTLED)
    touched = set()
    for payload in unsettled.values_list("event__payload", flat=True).iterator(chunk_size=CHUNK):
        touched |= touched_accounts(payload)
    unsettled.delete()
    touched = sorted(touched)
    for start in range(0, len(touched), CHUNK):
        chunk = list(Account.objects.filter(pk__in=touched[start : start + CHUNK]).values_list("pk", flat=True))
        followers = dict(Follow.objects.filter(followee__in=chunk).values_list("followee").annotate(n=Count("id")).order_by())
        following = dict(Follow.objects.filter(follower__in=chunk).values_list("follower").annotate(n=Count("id")).order_by())
        for account_id in chunk:
            AccountStats.objects.update_or_create(
                account_id=account_id,
                defaults={"followers_count": followers.get(account_id, 0), "following_count": following.get(account_id, 0)},
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_drop_follow_block_indexes_covered_by_pairs"),
        ("messaging", "0010_erasure"),
    ]

    operations = [migrations.RunPython(retire_the_projector_deliveries, migrations.RunPython.noop)]
