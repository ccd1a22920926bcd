"""manage.py deliveries: the outbox for an operator, and the two decisions a
dead letter waits for: retry it once its fault is fixed, or discard it;
how far behind each policy is (lag); beside it, the commands scheduled to wait for their time."""

import argparse
import dataclasses
import json
from collections import Counter
from datetime import timedelta
from itertools import batched

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.urls import reverse

from messaging import sql
from messaging.delivery import workers
from messaging.models import Delivery, ScheduledCommand
from messaging.operations import dead_letters, log, metrics
from messaging.personal import opened_rows
from messaging.serialization import parse_uuid

# Rows reopened and delivered, or discarded, per round: each round's work is
# bounded however many dead letters an outage left.
BATCH = 200
ERROR_WIDTH = 60
STATUSES = [status.value for status in Delivery.Status]
SCHEDULE_STATUSES = [status.value for status in ScheduledCommand.Status]

EXIT_STATUS = """\
exit status: 0 done; 1 refused (a delivery named is not dead-lettered) or a retried
delivery failed again; 2 bad input (an unknown id, a bad filter)."""

EXAMPLES = {
    "list": """\
examples:
  manage.py deliveries list --status dead
  manage.py deliveries list --status pending,failed --older-than 30m
  manage.py deliveries list --policy orders.policies.mail_confirmation --limit 10
  manage.py deliveries list --held
  manage.py deliveries list --unknown
  manage.py deliveries list --status dead --json | jq .last_error""",
    "show": """\
examples:
  manage.py deliveries show 12
  manage.py deliveries show 12 --json""",
    "retry": """\
Fix the fault first (the mail server, the bug), then retry: each delivery gets
a fresh set of attempts and is attempted at once; its outcome is printed.

examples:
  manage.py deliveries retry 12 13
  manage.py deliveries retry --all-dead
  manage.py deliveries retry --all-dead --policy orders.policies.mail_confirmation""",
    "lag": """\
How far behind each policy is, per lane (database: effects in the database,
exactly once; outside: mail, at least once): rows waiting (pending or failed
waiting for their retry), how many failed, how many are due, how long the
oldest due one has waited (by the database's clock), how many are held back
by an earlier one of their ordering key, and the rows done in the last 5
minutes (and per minute).

examples:
  manage.py deliveries lag
  manage.py deliveries lag --json | jq 'select(.oldest_due_seconds > 60)'""",
    "schedules": """\
Commands waiting for their time (an order's expiry), and what became of
them: waiting, done (dispatched), cancelled (its order was confirmed or
cancelled first, or an operator called it off: manage.py send_command
CancelSchedule key=...), dead (it kept failing).

examples:
  manage.py deliveries schedules
  manage.py deliveries schedules --status waiting --limit 10""",
    "discard": """\
Give up on dead letters: the rows stay, marked discarded, and are never
delivered. Nothing is asked: name the deliveries, or say --all-dead.

examples:
  manage.py deliveries discard 12
  manage.py deliveries discard --all-dead --event-type OrderShipped --older-than 7d""",
}


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the examples' lines kept as written."""


class Command(BaseCommand):
    help = (
        "See the deliveries of events to policies (the outbox) and act on dead letters: list, show, "
        "retry (after fixing the fault) or discard them; lag shows how far behind each policy is. "
        "`manage.py deliveries <subcommand> --help` shows each one's options and examples."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, formatter_class=_Formatter, **kwargs)
        parser.epilog = f"{EXAMPLES['list']}\n  manage.py deliveries retry --all-dead\n\n{EXIT_STATUS}"
        return parser

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{list,show,retry,discard,lag,schedules}"
        )

        def subcommand(name, help_text):
            return subcommands.add_parser(
                name,
                help=help_text,
                description=help_text,
                epilog=f"{EXAMPLES[name]}\n\n{EXIT_STATUS}",
                formatter_class=_Formatter,
            )

        listing = subcommand("list", "Deliveries, newest first, as an aligned table (or JSON lines).")
        _add_status(listing, STATUSES)
        _add_filters(listing)
        listing.add_argument("--limit", default="50", help="At most this many rows (default 50).")
        listing.add_argument(
            "--json", dest="as_json", action="store_true", help="One JSON object per line, for scripts."
        )
        listing.add_argument(
            "--unknown",
            action="store_true",
            help="Instead of rows: the open deliveries no running worker knows (a policy, or an event version, "
            "of a release no worker runs), open for more than MESSAGING_UNKNOWN_DELIVERY_SECONDS, per policy.",
        )

        show = subcommand("show", "Every field of one delivery, its event's payload and its trace page.")
        show.add_argument("id", help="The delivery's id.")
        show.add_argument("--json", dest="as_json", action="store_true", help="As one JSON object.")

        for name, verb in (("retry", "Retry"), ("discard", "Discard")):
            acting = subcommand(name, f"{verb} dead-lettered deliveries, named by id or all those --all-dead selects.")
            acting.add_argument("ids", nargs="*", metavar="id", help="Ids of dead-lettered deliveries.")
            acting.add_argument(
                "--all-dead", action="store_true", help="Every dead-lettered delivery (narrowed by the filters)."
            )
            _add_filters(acting)

        lag = subcommand("lag", "How far behind each policy is, per lane: rows waiting, oldest due age, throughput.")
        lag.add_argument("--json", dest="as_json", action="store_true", help="One JSON object per line, for scripts.")

        schedules = subcommand("schedules", "Scheduled commands, newest first, as an aligned table.")
        _add_status(schedules, SCHEDULE_STATUSES)
        schedules.add_argument("--limit", default="50", help="At most this many rows (default 50).")

    def handle(self, *args, subcommand, **options):
        getattr(self, f"_{subcommand}")(**options)

    # --- list and show ----------------------------------------------------------

    def _list(self, *, status, limit, as_json, unknown, **options):
        if unknown:
            self._unknown(as_json)
            return
        statuses = _statuses(status)
        limit = _positive(limit, "--limit")
        rows = list(log.deliveries(statuses=statuses, **_filters(options))[: limit + 1])
        more, rows = len(rows) > limit, rows[:limit]
        if as_json:
            for row in rows:
                self.stdout.write(_dumps(_record(row)))
        else:
            self._table(rows)
        if more:
            self.stderr.write(f"more deliveries match: showing the newest {limit} (--limit to see more)")
        elif not rows:
            self.stderr.write("no delivery matches")

    def _unknown(self, as_json: bool) -> None:
        found = workers.unknown()
        for group in found:
            self.stdout.write(_dumps(dataclasses.asdict(group)) if as_json else workers.describe(group))
        if not found and not as_json:
            live = len(workers.live())
            self.stdout.write(f"every open delivery is known to a running worker ({live} announced)")

    def _table(self, rows: list[Delivery]) -> None:
        now = sql.database_now()  # ages by the clock that dated the rows
        header = ("id", "status", "policy", "event", "attempts", "age", "kind", "held by", "last error")
        if not rows:
            return
        lines = [header] + [
            (
                str(row.pk),
                row.status,
                row.policy,
                row.event.type,
                str(row.attempts),
                _age(now - row.created_at),
                "outside" if row.outside else "db",
                f"#{row.held_by}" if row.held_by else "-",
                _truncated(row.last_error),
            )
            for row in rows
        ]
        self._columns(lines)

    def _columns(self, lines: list[tuple[str, ...]]) -> None:
        """Rows in aligned columns, the last (an error, free text) left ragged."""
        widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]) - 1)]
        for line in lines:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)] + [line[-1]]
            self.stdout.write("  ".join(cells).rstrip())

    def _show(self, *, id, as_json, **options):
        row = self._named([id])[0]
        if as_json:
            self.stdout.write(_dumps(_record(row, payload=True)))
            return
        (event,) = opened_rows([row.event])
        fields = [
            ("delivery", row.pk),
            ("status", f"{row.status} ({row.get_status_display()})"),
            ("policy", row.policy),
            ("kind", "outside effect (at least once)" if row.outside else "in the database (exactly once)"),
            ("attempts", row.attempts),
            ("created at", row.created_at.isoformat()),
            ("next attempt at", row.next_attempt_at.isoformat()),
            ("delivered at", row.delivered_at.isoformat() if row.delivered_at else "-"),
            ("lease", row.lease or "-"),
            ("ordering key", row.ordering_key or "-"),
            ("held by", f"delivery {row.held_by} (an earlier one of its policy and key)" if row.held_by else "-"),
            ("last error", row.last_error or "-"),
            ("event", f"{event.type} v{event.version} ({event.event_id})"),
            ("occurred at", event.occurred_at.isoformat()),
            ("command", f"{event.command_type} ({event.command_id})"),
            ("correlation id", event.correlation_id),
            ("causation id", event.causation_id or "-"),
            ("trace", _trace(row)),
        ]
        width = max(len(name) for name, _ in fields) + 1
        for name, value in fields:
            self.stdout.write(f"{name + ':':<{width}} {value}")
        self.stdout.write("payload:")
        self.stdout.write(json.dumps(event.payload, indent=2, sort_keys=True, default=str))

    def _lag(self, *, as_json, **options):
        figures = metrics.lag()
        window = int(metrics.THROUGHPUT_WINDOW.total_seconds() // 60)
        if not figures:
            self.stderr.write(f"no delivery waiting or done in the last {window} minutes")
            return
        if as_json:
            for row in figures:
                self.stdout.write(_dumps(row.as_dict()))
            return
        header = ("policy", "lane", "waiting", "failed", "due", "oldest due", "held", f"done/{window}m", "per min")
        lines = [header] + [
            (
                row.policy,
                row.lane,
                str(row.waiting),
                str(row.failed),
                str(row.due),
                "-" if row.oldest_due_seconds is None else _age(timedelta(seconds=row.oldest_due_seconds)),
                str(row.held),
                str(row.done_recently),
                f"{row.per_minute:g}",
            )
            for row in figures
        ]
        self._columns(lines)

    def _schedules(self, *, status, limit, **options):
        statuses = _statuses(status, SCHEDULE_STATUSES)
        limit = _positive(limit, "--limit")
        rows = ScheduledCommand.objects.order_by("-pk")
        if statuses:
            rows = rows.filter(status__in=statuses)
        rows = list(rows[:limit])
        if not rows:
            self.stderr.write("no scheduled command matches")
            return
        header = ("id", "status", "command", "key", "not before", "attempts", "last error")
        lines = [header] + [
            (
                str(row.pk),
                row.status,
                row.command_type,
                row.key,
                row.not_before.isoformat(timespec="seconds"),
                str(row.attempts),
                _truncated(row.last_error),
            )
            for row in rows
        ]
        self._columns(lines)

    # --- retry and discard --------------------------------------------------------

    def _retry(self, *, ids, all_dead, **options):
        selected = self._dead(ids, all_dead, options)
        if not selected:
            self.stdout.write("no dead-lettered delivery matches")
            return
        outcomes = Counter()
        for chunk in batched(selected, BATCH, strict=False):
            attempted = dead_letters.retry_now(chunk)
            for row in log.deliveries().filter(pk__in=chunk).order_by("pk"):
                if attempted.get(row.pk) == dead_letters.TAKEN:  # a live worker runs it: no failure
                    outcomes[dead_letters.TAKEN] += 1
                    self.stdout.write(f"{_label(row)}: {dead_letters.TAKEN}")
                    continue
                outcomes[row.status] += 1
                error = f": {row.last_error}" if row.status != Delivery.Status.DONE else ""
                self.stdout.write(f"{_label(row)}: {row.get_status_display()}{error}")
        self.stdout.write(f"retried {len(selected)} dead-lettered deliveries: {_describe(outcomes)}")
        settled = outcomes[Delivery.Status.DONE] + outcomes[Delivery.Status.SKIPPED] + outcomes[dead_letters.TAKEN]
        failed = len(selected) - settled
        if failed:
            raise CommandError(
                f"{failed} of {len(selected)} failed again; see manage.py deliveries list --status failed,dead",
                returncode=1,
            )

    def _discard(self, *, ids, all_dead, **options):
        selected = self._dead(ids, all_dead, options)
        if not selected:
            self.stdout.write("no dead-lettered delivery matches")
            return
        discarded = 0
        for chunk in batched(selected, BATCH, strict=False):
            dead_letters.discard(chunk)
            for row in log.deliveries(statuses=[Delivery.Status.DISCARDED]).filter(pk__in=chunk).order_by("pk"):
                discarded += 1
                self.stdout.write(f"discarded {_label(row)} after {row.attempts} attempt(s): {row.last_error}")
        self.stdout.write(f"discarded {discarded} dead-lettered deliveries (the rows stay, marked discarded)")

    def _dead(self, ids: list[str], all_dead: bool, options: dict) -> list[int]:
        """The ids of the dead letters to act on, all checked before any is
        touched: named ones must exist and be dead-lettered."""
        filters = _filters(options)
        if ids and all_dead:
            raise CommandError("name deliveries by id or say --all-dead, not both", returncode=2)
        if all_dead:
            return list(log.deliveries(statuses=[Delivery.Status.DEAD], **filters).values_list("pk", flat=True))
        if not ids:
            raise CommandError("name the deliveries by id, or say --all-dead", returncode=2)
        if filters:
            raise CommandError("filters narrow --all-dead; with ids, name exactly the deliveries meant", returncode=2)
        rows = self._named(ids)
        not_dead = [f"delivery {row.pk} is {row.status}, not dead-lettered" for row in rows if row.status != "dead"]
        if not_dead:
            raise CommandError("; ".join(not_dead), returncode=1)
        return [row.pk for row in rows]

    @staticmethod
    def _named(ids: list[str]) -> list[Delivery]:
        """The deliveries with these ids, in the order given (each once)."""
        wanted = list(dict.fromkeys(_positive(text, "a delivery id") for text in ids))
        rows = {row.pk: row for row in log.deliveries().filter(pk__in=wanted)}
        unknown = [str(pk) for pk in wanted if pk not in rows]
        if unknown:
            raise CommandError(f"no delivery {', '.join(unknown)}", returncode=2)
        return [rows[pk] for pk in wanted]


def _add_filters(parser) -> None:
    parser.add_argument("--policy", help="Only deliveries to this policy (its full name).")
    parser.add_argument("--event-type", help="Only deliveries of events of this type, e.g. OrderConfirmed.")
    parser.add_argument(
        "--older-than", metavar="AGE", help="Only deliveries opened longer ago than 45s, 30m, 2h, 1d..."
    )
    parser.add_argument("--correlation-id", help="Only deliveries of one request's events.")
    parser.add_argument(
        "--held",
        action="store_true",
        help="Only deliveries held back by an earlier one of their policy and ordering key (its id: 'held by').",
    )


def _filters(options: dict) -> dict:
    """The filter options, checked, as keyword arguments of ``log.deliveries``
    (only those given)."""
    filters = {}
    if options.get("policy"):
        filters["policy"] = options["policy"]
    if options.get("event_type"):
        filters["event_type"] = options["event_type"]
    if options.get("held"):
        filters["held"] = True
    if options.get("older_than"):
        try:
            filters["older_than"] = log.parse_age(options["older_than"])
        except ValueError as error:
            raise CommandError(f"--older-than: {error}", returncode=2) from None
    if options.get("correlation_id"):
        filters["correlation_id"] = parse_uuid(options["correlation_id"])
        if filters["correlation_id"] is None:
            raise CommandError(f"--correlation-id: {options['correlation_id']!r} is not a UUID", returncode=2)
    return filters


def _add_status(parser, known: list[str]) -> None:
    parser.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="STATUS",
        help=f"Only these statuses ({', '.join(known)}); repeat it or give a comma list.",
    )


def _statuses(given: list[str], known: list[str] = STATUSES) -> list[str]:
    statuses = [status.strip() for text in given for status in text.split(",") if status.strip()]
    unknown = [status for status in statuses if status not in known]
    if unknown:
        raise CommandError(f"--status: no status {', '.join(unknown)}; the statuses: {', '.join(known)}", returncode=2)
    return statuses


def _positive(text: str, name: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CommandError(f"{name}: {text!r} is not a positive whole number", returncode=2)
    return int(text)


def _label(row: Delivery) -> str:
    return f"delivery {row.pk} ({row.event.type} -> {row.policy})"


def _trace(row: Delivery) -> str:
    return reverse("console:trace", args=[row.event.correlation_id])


def _record(row: Delivery, *, payload: bool = False) -> dict:
    """A delivery as JSON for scripts (with its event's payload for ``show``)."""
    event = row.event
    data = {
        "id": row.pk,
        "status": row.status,
        "policy": row.policy,
        "event_type": event.type,
        "event_id": str(event.event_id),
        "correlation_id": str(event.correlation_id),
        "attempts": row.attempts,
        "outside": row.outside,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "last_error": row.last_error,
        "ordering_key": row.ordering_key,
        "held_by": row.held_by,
        "trace": _trace(row),
    }
    if payload:
        data["payload"] = opened_rows([event])[0].payload
    return data


def _dumps(data: dict) -> str:
    return json.dumps(data, default=str)


def _age(age) -> str:
    """A duration the way an operator reads it at a glance: 45s, 12m, 5h, 3d."""
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _truncated(error: str) -> str:
    line = " ".join(error.split())
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _describe(outcomes: Counter) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
