from django.core.management.base import BaseCommand, CommandError

from messaging.features import rebuilds
from messaging.progress import progress
from messaging.registry import registry


class Command(BaseCommand):
    help = (
        "Rebuild read models (projections) from the event log, without downtime: each is built beside the "
        "live one (copies of its tables only this command sees), from every event of its types, in batches, "
        "while the shop runs; then it catches up with the events committed meanwhile and is swapped in, in one "
        "short transaction (the projection's writers wait for it; readers never do, and never see a partial "
        "figure). Shows its progress with the rate and ETA, then how many figures "
        "(rows of the read model) changed. "
        "Every projection, or those named."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Projections to rebuild (default: all).")
        parser.add_argument("--batch", type=int, default=1000, help="Events per transaction (default 1000).")

    def handle(self, *args, names, batch, **options):
        unknown = [name for name in names if name not in registry.projections]
        if unknown:
            known = ", ".join(sorted(registry.projections))
            raise CommandError(f"no projection named {', '.join(unknown)}; known: {known}", returncode=2)
        if batch < 1:
            raise CommandError("--batch: give a positive number of events", returncode=2)
        for projection in [registry.projections[name] for name in names] or registry.projections.values():
            with progress(self.stderr) as display:
                bar = display.bar(projection.name)
                replayed, changed = rebuilds.rebuild(
                    projection, batch=batch, progress=lambda done, bar=bar: bar.update(done.done, done.total)
                )
            figures = f", {changed} figure(s) changed" if changed is not None else ""
            self.stdout.write(f"{projection.name}: rebuilt from {replayed} event(s){figures}")
