import subprocess

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.operations import event_catalogue
from messaging.operations.event_compatibility import breaks


class Command(BaseCommand):
    help = (
        "The catalogue of every event type, version and field (docs/events.yaml). Without options it prints "
        "the catalogue of the code. --check fails when the committed file differs from the code, naming "
        "first every change the release before could not read (a field removed, renamed or retyped without "
        "a new version and its upcaster); --against REF compares the code with the catalogue committed at a "
        "git revision (the last release); --write regenerates the file, refusing a breaking change unless "
        "--allow-breaking. See docs/operations.md, 'Changing an event'."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--write", action="store_true", help="write docs/events.yaml from the code")
        action.add_argument(
            "--check", action="store_true", help="fail unless docs/events.yaml is the code's, and compatible"
        )
        parser.add_argument(
            "--against",
            metavar="REF",
            help="also fail on a change the catalogue committed at git revision REF could not live beside",
        )
        parser.add_argument(
            "--allow-breaking",
            action="store_true",
            help="with --write: accept a breaking change (a contract step, once no release before runs)",
        )

    def handle(self, *args, write, check, against, allow_breaking, **options):
        current = event_catalogue.catalogue()
        path = event_catalogue.committed_path()
        committed = self._read(path.read_text(), str(path)) if path.exists() else None
        broken = []
        if against:
            broken += self._breaks(self._at_revision(against), current, f"the catalogue at {against}")
        if committed is not None and (check or write):
            broken += self._breaks(committed, current, str(event_catalogue.PATH))
        if broken and not (write and allow_breaking):
            raise CommandError(
                "\n".join(
                    [
                        *broken,
                        "The release before could not read these events beside this one: give a changed event "
                        "a new version and an upcaster from the old one (docs/operations.md, 'Changing an event').",
                    ]
                )
            )
        if write:
            path.write_text(event_catalogue.render(current))
            self.stdout.write(f"wrote {event_catalogue.PATH}: {len(current['events'])} event types")
        elif check:
            if committed is None:
                raise CommandError(
                    f"{event_catalogue.PATH} is missing: run .venv/bin/python manage.py event_catalogue --write"
                )
            if committed != current:
                raise CommandError(
                    f"The events changed without their catalogue: run .venv/bin/python manage.py "
                    f"event_catalogue --write and commit {event_catalogue.PATH}"
                )
            self.stdout.write(f"{event_catalogue.PATH} is up to date: {len(current['events'])} event types")
        elif against:
            self.stdout.write(f"compatible with the catalogue at {against}")
        else:
            self.stdout.write(event_catalogue.render(current), ending="")

    def _breaks(self, before: dict, current: dict, source: str) -> list[str]:
        return [f"against {source}: {found}" for found in breaks(before, current)]

    def _read(self, text: str, source: str) -> dict:
        try:
            return event_catalogue.parse(text)
        except ValueError as error:
            raise CommandError(f"{source}: {error}") from None

    def _at_revision(self, revision: str) -> dict:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{event_catalogue.PATH.as_posix()}"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0:
            raise CommandError(f"no catalogue at {revision}: {shown.stderr.strip()}")
        return self._read(shown.stdout, f"{event_catalogue.PATH} at {revision}")
