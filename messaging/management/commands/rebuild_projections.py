from django.core.management.base import BaseCommand, CommandError

from messaging.features import subscriptions
from messaging.progress import progress
from messaging.registry import registry


class Command(BaseCommand):
    help = (
        "Rebuild read models (projections) from the event log: empty each one, then run every event "
        "of its types through its projectors, in batches; says how many figures changed. Every projection, "
        "or those named. Run it while the shop is quiet: a command committing during a rebuild projects "
        "its events as well, and they may be counted twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Projections to rebuild (default: all).")
        parser.add_argument("--batch", type=int, default=1000, help="Events per transaction (default 1000).")

    def handle(self, *args, names, batch, **options):
        unknown = [name for name in names if name not in registry.projections]
        if unknown:
            known = ", ".join(sorted(registry.projections))
            raise CommandError(f"no projection named {', '.join(unknown)}; known: {known}", returncode=2)
        for projection in [registry.projections[name] for name in names] or registry.projections.values():
            with progress(self.stderr) as display:
                bar = display.bar(projection.name)
                replayed, changed = subscriptions.rebuild(projection, batch=batch, progress=bar.update)
            figures = f", {changed} figure(s) changed" if changed is not None else ""
            self.stdout.write(f"{projection.name}: rebuilt from {replayed} event(s){figures}")
