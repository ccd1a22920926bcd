from django.core.management.base import BaseCommand, CommandError

from messaging.registry import registry


class Command(BaseCommand):
    help = (
        "Check every consistency rule the apps registered (no follow across a block, stock figures, "
        "every event has its deliveries, ...). Lists each violation and exits 1 if there is any; "
        "warnings (accounts over a lowered follow limit) go to stderr and never fail it."
    )

    def handle(self, *args, **options):
        for check in registry.warnings:
            for warning in check():
                self.stderr.write(self.style.WARNING(f"warning: {check.__module__}.{check.__name__}: {warning}"))
        violations = 0
        for check in registry.invariants:
            for violation in check():
                violations += 1
                self.stdout.write(f"{check.__module__}.{check.__name__}: {violation}")
        if violations:
            raise CommandError(f"{violations} violation(s) of {len(registry.invariants)} rule(s)")
        self.stdout.write(f"all {len(registry.invariants)} rules hold")
