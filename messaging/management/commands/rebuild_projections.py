import time

from django.core.management.base import BaseCommand, CommandError

from messaging.features import rebuilds
from messaging.registry import registry

PROGRESS_EVERY_SECONDS = 2.0


class Command(BaseCommand):
    help = (
        "Rebuild read models (projections) from the event log, without downtime: each is built beside the "
        "live one (copies of its tables only this command sees), from every event of its types, in batches, "
        "while the shop runs; then it catches up with the events committed meanwhile and is swapped in, in one "
        "short transaction (the projection's writers wait for it; readers never do, and never see a partial "
        "figure). Prints a progress line with the rate and ETA every few seconds, then how many figures "
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
            self._shown_at = float("-inf")
            replayed, changed = rebuilds.rebuild(projection, batch=batch, progress=self._progress(projection.name))
            figures = f", {changed} figure(s) changed" if changed is not None else ""
            self.stdout.write(f"{projection.name}: rebuilt from {replayed} event(s){figures}")

    def _progress(self, name: str):
        def show(progress: rebuilds.Progress) -> None:
            finished = progress.phase != "replaying" or progress.done >= progress.total
            if not finished and time.monotonic() - self._shown_at < PROGRESS_EVERY_SECONDS:
                return
            self._shown_at = time.monotonic()
            eta = "-" if progress.eta_seconds is None else f"{progress.eta_seconds:.0f}s"
            share = 100 * progress.done / progress.total if progress.total else 100
            self.stderr.write(
                f"  {name}: {progress.phase} {progress.done}/{progress.total} events ({share:.0f}%), "
                f"{progress.rate:.0f} events/s, ETA {eta}"
            )

        return show
