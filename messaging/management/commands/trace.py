from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from messaging.operations.trace import causal_tree, render_tree


class Command(BaseCommand):
    help = "Print the causal tree of one correlation id: command -> events -> policies -> commands."

    def add_arguments(self, parser):
        parser.add_argument("correlation_id", help="The correlation id (a UUID) to trace.")

    def handle(self, *args, correlation_id, **options):
        try:
            correlation = UUID(correlation_id)
        except ValueError:
            raise CommandError(f"{correlation_id!r} is not a UUID.", returncode=2) from None
        roots = causal_tree(correlation)
        if not roots:
            raise CommandError(f"No events stored for correlation id {correlation}.")
        for line in render_tree(roots):
            self.stdout.write(line)
