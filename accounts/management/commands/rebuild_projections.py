from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import projections
from messaging.queries import open_deliveries

PROJECTORS = [
    f"{projector.__module__}.{projector.__qualname__}"
    for projector in (projections.open_stats, projections.count_follow, projections.count_unfollow)
]


class Command(BaseCommand):
    help = (
        "Rebuild the follower and following counts from the follows; reports how many accounts drifted. "
        "Refuses while count deliveries are still open (their +1/-1 would land on the rebuilt figures): "
        "run relay_events first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Rebuild even with count deliveries open.")

    def handle(self, *args, force, **options):
        waiting = open_deliveries(*PROJECTORS)
        if waiting and not force:
            raise CommandError(
                f"{waiting} follow-count deliveries are not done yet; run relay_events first (or --force)."
            )
        with transaction.atomic():
            corrected = projections.rebuild()
        self.stdout.write(f"follow counts: corrected {corrected} account(s)")
