from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from messaging.operations.log import recent_requests
from messaging.operations.trace import causal_tree, render_tree

MAX_LATEST = 1000


class Command(BaseCommand):
    help = (
        "Print the causal tree of one correlation id (command -> events -> policies -> commands), naming "
        "the people and books its ids stand for, as the trace page does; or, with --latest N, the N most "
        "recent requests, newest first, to pick one from. "
        "Examples: trace 5f0c...; trace --latest 20; trace --latest 20 --troubled"
    )

    def add_arguments(self, parser):
        parser.add_argument("correlation_id", nargs="?", help="The correlation id (a UUID) to trace.")
        parser.add_argument(
            "--latest",
            type=int,
            metavar="N",
            help="List the N most recent requests: when, correlation id, command, who sent it, what it stored.",
        )
        parser.add_argument(
            "--troubled", action="store_true", help="With --latest: only requests with a failed or dead delivery."
        )

    def handle(self, *args, correlation_id, latest, troubled, **options):
        if latest is not None:
            if not 1 <= latest <= MAX_LATEST:
                raise CommandError(f"--latest takes a number from 1 to {MAX_LATEST}, not {latest}", returncode=2)
            for request in recent_requests(latest, troubled=troubled):
                self.stdout.write(_request_line(request))
            return
        if correlation_id is None:
            raise CommandError("give a correlation id, or --latest N to list the recent ones", returncode=2)
        try:
            correlation = UUID(correlation_id)
        except ValueError:
            raise CommandError(f"{correlation_id!r} is not a UUID.", returncode=2) from None
        roots = causal_tree(correlation)
        if not roots:
            raise CommandError(f"No events stored for correlation id {correlation}.")
        for line in render_tree(roots):
            self.stdout.write(line)


def _request_line(request: dict) -> str:
    """One recent request: when it started, its correlation id, its command,
    who sent it, and what came of it."""
    by = f" by {request['actor']}" if request["actor"] else ""
    came = ["refused"] if request["refused"] else []
    came.append(f"{request['events']} event(s)")
    came += [f"{request[status]} {status}" for status in ("failed", "dead") if request[status]]
    return (
        f"{request['started']:%Y-%m-%d %H:%M:%S}  {request['correlation_id']}  "
        f"{request['command_type']}{by}  {', '.join(came)}"
    )
