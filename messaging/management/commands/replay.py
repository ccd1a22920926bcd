from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from messaging.models import StoredEvent
from messaging.registry import registry

from ...features import subscriptions
from ...progress import progress


class Command(BaseCommand):
    help = (
        "Run one policy over past events, on purpose: open the deliveries it is missing "
        "(from --from on, by default all history) in bounded batches; the relay workers then deliver them. "
        "Exactly once and resumable: a second run, or a run after a crash half-way, opens only what is "
        "still missing, and no other subscriber runs again. A policy that mails people needs --force. "
        "A projection has no deliveries: rebuild it with rebuild_projections. "
        "Examples: replay orders.policies.mail_confirmation --dry-run; "
        "replay stock_new_book --from 2026-11-01T00:00:00Z; replay stock_new_book --from 1200 --live. "
        "Its deliveries run in the backfill lane, after live ones and at MESSAGING_BACKFILL_PER_SECOND at most, "
        "unless --live, or the policy keeps an order per key (its live deliveries wait for the earlier events of "
        "their key, replayed ones too: those go in the live lane)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The policy's registered name, or its last part if that is unique.")
        parser.add_argument(
            "--from", dest="start", help="A position in the log, or an ISO time: replay events from there on."
        )
        parser.add_argument("--dry-run", action="store_true", help="Say how many deliveries it would open, open none.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replay a policy with an outside effect (mail), or from before the mark retention pruned to.",
        )
        parser.add_argument("--batch", type=int, default=500, help="Events per transaction (default 500).")
        parser.add_argument(
            "--live",
            action="store_true",
            help="Open the deliveries in the live lane, delivered as soon as what waits there now, instead of the "
            "backfill lane, which yields to live deliveries at MESSAGING_BACKFILL_PER_SECOND at most.",
        )

    def handle(self, *args, name, start, dry_run, force, batch, live, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1", returncode=2)
        policy = _policy(name)
        after = _position_before(start)
        try:
            with progress(self.stderr) as display:
                bar = display.bar(f"replay {policy}")
                count = subscriptions.replay(
                    policy, after=after, batch=batch, dry_run=dry_run, force=force, live=live, progress=bar.update
                )
        except subscriptions.ReplayRefused as refused:
            raise CommandError(str(refused), returncode=1) from None
        lane = "backfill" if subscriptions.replay_lane(registry.policies[policy], live=live) else "live"
        if dry_run:
            self.stdout.write(f"{policy}: would open {count} deliveries for events after #{after}")
        else:
            self.stdout.write(
                f"{policy}: opened {count} deliveries for events after #{after} in the {lane} lane; "
                "the relay workers deliver them"
            )


def _policy(name: str) -> str:
    if name in registry.policies or name in registry.projections:  # a projection's refusal says what to do instead
        return name
    matches = [known for known in registry.policies if known.endswith(f".{name}")]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(registry.policies))
    if matches:
        raise CommandError(f"{name!r} could be {', '.join(matches)}: name it in full", returncode=2)
    raise CommandError(f"no policy or projection is named {name!r}; known: {known}", returncode=2)


def _position_before(start: str | None) -> int:
    """The position after which to replay: ``--from 1200`` replays 1200 on."""
    if start is None:
        return 0
    if start.isdigit():
        return max(0, int(start) - 1)
    try:
        moment = parse_datetime(start)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"--from takes a position (1200) or an ISO time (2026-11-01T00:00:00Z), not {start!r}", returncode=2
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    first = StoredEvent.objects.filter(occurred_at__gte=moment).aggregate(first=Min("position"))["first"]
    if first is None:  # nothing happened since: replay nothing
        return StoredEvent.objects.aggregate(end=Max("position"))["end"] or 0
    return first - 1
