from django.core.management.base import BaseCommand, CommandError

from messaging import subscriptions
from messaging.queries import open_deliveries
from messaging.registry import registry


class Command(BaseCommand):
    help = (
        "Rebuild read models (projections) from the event log: empty each one, then replay every event "
        "of its policies' types through them, in batches; says how many figures changed. Every projection, "
        "or those named. Refuses while a projection's deliveries are still open (they would land on the "
        "rebuilt figures a second time): run relay_events first. Run it while the shop is quiet: what is "
        "delivered during a rebuild may be counted twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Projections to rebuild (default: all).")
        parser.add_argument("--force", action="store_true", help="Rebuild even with deliveries open.")
        parser.add_argument("--batch", type=int, default=1000, help="Events per transaction (default 1000).")

    def handle(self, *args, names, force, batch, **options):
        unknown = [name for name in names if name not in registry.projections]
        if unknown:
            known = ", ".join(sorted(registry.projections))
            raise CommandError(f"no projection named {', '.join(unknown)}; known: {known}", returncode=2)
        for projection in [registry.projections[name] for name in names] or registry.projections.values():
            waiting = open_deliveries(*(policy.name for policy in projection.policies))
            if waiting and not force:
                raise CommandError(
                    f"{projection.name}: {waiting} deliveries are not done yet; run relay_events first (or --force)."
                )
            replayed, changed = subscriptions.rebuild(projection, batch=batch, progress=self._progress)
            self.stderr.write("")
            figures = f", {changed} figure(s) changed" if changed is not None else ""
            self.stdout.write(f"{projection.name}: rebuilt from {replayed} event(s){figures}")

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"\r  {done}/{total} events", ending="")
        self.stderr.flush()
