"""manage.py deliveries: the outbox for an operator, and the decisions a
delivery may wait for (``messaging.operations.deliveries``): retry it now,
skip it, or discard a dead letter, by id or by policy and time window; how
far behind each policy is (lag); beside it, the commands scheduled to wait
for their time."""

import argparse
import dataclasses
import getpass
import json
import os
import socket
from collections import Counter
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.urls import reverse

from messaging import sql
from messaging.delivery import workers
from messaging.models import Delivery, ScheduledCommand
from messaging.operations import deliveries as operations
from messaging.operations import log, metrics
from messaging.personal import opened_rows
from messaging.registry import registry
from messaging.serialization import parse_uuid

ERROR_WIDTH = 60
STATUSES = [status.value for status in Delivery.Status]
SCHEDULE_STATUSES = [status.value for status in ScheduledCommand.Status]

EXIT_STATUS = """\
exit status: 0 done; 1 refused (a delivery named is not one the operation acts on)
or a retried delivery failed again; 2 bad input (an unknown id, a bad filter)."""

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

Failed deliveries waiting for their retry and dead letters alike; each batch
of --batch deliveries is one recorded command (an event in the log, with
--actor as its actor, and the operating-system user and host that ran it as
its origin). --dry-run says how many would be retried, and shows the first
few, changing nothing.

examples:
  manage.py deliveries retry 12 13 --actor @alice
  manage.py deliveries retry --all-dead
  manage.py deliveries retry --policy orders.policies.mail_confirmation --since 2h --dry-run
  manage.py deliveries retry --policy orders.policies.mail_confirmation --since 2026-12-07T09:00Z --until 1h""",
    "skip": """\
Settle deliveries without running them (status skipped): pending, failed or
dead ones a worker is not running now. Later deliveries of the same ordering
key are no longer held back by them. A skip is an operator's decision: the
row keeps who skipped it (--actor, else the operating-system user and host)
and why (--reason, required), and each batch is one recorded command.

examples:
  manage.py deliveries skip 12 --reason "the customer was called instead" --actor @alice
  manage.py deliveries skip --policy orders.policies.mail_shipped --until 7d --reason "stale" --dry-run""",
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
delivered. Nothing is asked: name the deliveries, or select them with the
filters (--policy, --since, --until...) or --all-dead; --dry-run first.
Each batch is one recorded command, as for retry.

examples:
  manage.py deliveries discard 12
  manage.py deliveries discard --policy orders.policies.mail_shipped --since 1d --dry-run
  manage.py deliveries discard --all-dead --event-type OrderShipped --older-than 7d""",
}


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the examples' lines kept as written."""


class Command(BaseCommand):
    help = (
        "See the deliveries of events to policies (the outbox) and act on them: list, show, "
        "retry now (failed or dead), skip or discard them, by id or by policy and time window; "
        "lag shows how far behind each policy is. "
        "`manage.py deliveries <subcommand> --help` shows each one's options and examples."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, formatter_class=_Formatter, **kwargs)
        parser.epilog = f"{EXAMPLES['list']}\n  manage.py deliveries retry --all-dead\n\n{EXIT_STATUS}"
        return parser

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(
            dest="subcommand", required=True, metavar="{list,show,retry,skip,discard,lag,schedules}"
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

        for name, text in (
            ("retry", "Retry now failed or dead-lettered deliveries (dead ones with fresh attempts), attempted here."),
            ("skip", "Settle waiting deliveries without running them; the decision is recorded with its reason."),
            ("discard", "Discard dead-lettered deliveries: the rows stay, marked discarded, never delivered."),
        ):
            acting = subcommand(name, text)
            acting.add_argument("ids", nargs="*", metavar="id", help="Ids of the deliveries (or select with filters).")
            if name != "skip":
                acting.add_argument(
                    "--all-dead", action="store_true", help="Every dead-lettered delivery (narrowed by the filters)."
                )
            _add_filters(acting, held=False)
            acting.add_argument(
                "--since",
                metavar="WHEN",
                help="Only deliveries opened at or after: an age (2h, 1d) or 2026-12-07T10:30Z.",
            )
            acting.add_argument("--until", metavar="WHEN", help="Only deliveries opened before: an age or a date.")
            acting.add_argument(
                "--dry-run",
                action="store_true",
                help="Say how many would change and show the first few; change nothing.",
            )
            acting.add_argument(
                "--batch",
                default=str(operations.BATCH),
                help=f"Deliveries per recorded command (one transaction; default {operations.BATCH}).",
            )
            acting.add_argument(
                "--actor",
                help="Your account (id or @username), recorded as the operation's actor. With or without it, the "
                "operating-system user and host running this command (user@host, and sudo's user if any) are "
                "recorded as the operation's origin.",
            )
            acting.add_argument(
                "--reason", required=False, help="Why (recorded with the operation; required for skip)."
            )

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

    # --- retry, skip and discard ------------------------------------------------

    def _retry(self, **options):
        self._operate(operations.Operation.RETRY, **options)

    def _skip(self, **options):
        self._operate(operations.Operation.SKIP, **options)

    def _discard(self, **options):
        self._operate(operations.Operation.DISCARD, **options)

    def _operate(self, operation, *, ids, dry_run, batch, actor, reason, **options):
        reason = (reason or "").strip()
        if operation == operations.Operation.SKIP and not reason:
            raise CommandError("--reason: say why; a skip is recorded with its reason", returncode=2)
        selection = self._selection(operation, ids, options)
        batch = _positive(batch, "--batch")
        actor_id = _actor(actor)
        planned = operations.preview(operation, selection)
        what = _WHAT[operation] if not selection.dead_only else "dead-lettered"
        if not planned.count:
            self.stdout.write(f"no {what} delivery matches")
            return
        if dry_run:
            shown = len(planned.sample)
            self.stdout.write(
                f"dry run: would {operation} {planned.count} {what} deliveries; nothing changed. The first {shown}:"
            )
            self._table(log.deliveries().filter(pk__in=[row.pk for row in planned.sample]).order_by("pk"))
            return
        outcomes = Counter()
        done = 0

        def progress(outcome):
            nonlocal done
            fresh, done = outcome.acted[done:], len(outcome.acted)
            self._report(operation, fresh, outcomes)
            if planned.count > batch:
                self.stderr.write(f"  {operation}: {done} of about {planned.count}")

        outcome = operations.run(
            operation,
            selection,
            actor_id=actor_id,
            origin=_shell_origin(),
            reason=reason,
            batch=batch,
            progress=progress,
        )
        for refusal in outcome.refused:
            self.stderr.write(f"left alone: {refusal}")
        self._summary(operation, what, outcome, outcomes)

    def _report(self, operation, fresh: list[int], outcomes: Counter) -> None:
        """One line per delivery acted on; a retry attempts each here first."""
        attempted = operations.attempt(fresh) if operation == operations.Operation.RETRY else {}
        for row in log.deliveries().filter(pk__in=fresh).order_by("pk"):
            if attempted.get(row.pk) == operations.TAKEN:  # a live worker runs it: no failure
                outcomes[operations.TAKEN] += 1
                self.stdout.write(f"{_label(row)}: {operations.TAKEN}")
                continue
            outcomes[row.status] += 1
            if operation == operations.Operation.DISCARD:
                self.stdout.write(f"discarded {_label(row)} after {row.attempts} attempt(s): {row.last_error}")
            elif operation == operations.Operation.SKIP:
                self.stdout.write(f"{_label(row)}: {row.last_error}")
            else:
                error = f": {row.last_error}" if row.status not in _SETTLED else ""
                self.stdout.write(f"{_label(row)}: {row.get_status_display()}{error}")

    def _summary(self, operation, what: str, outcome, outcomes: Counter) -> None:
        acted = len(outcome.acted)
        if operation == operations.Operation.DISCARD:
            self.stdout.write(f"discarded {acted} dead-lettered deliveries (the rows stay, marked discarded)")
            return
        if operation == operations.Operation.SKIP:
            self.stdout.write(f"skipped {acted} deliveries (settled without running; the reason is on each row)")
            return
        self.stdout.write(f"retried {acted} {what} deliveries: {_describe(outcomes)}")
        settled = sum(outcomes[status] for status in (*_SETTLED, operations.TAKEN))
        if acted - settled:
            raise CommandError(
                f"{acted - settled} of {acted} failed again; see manage.py deliveries list --status failed,dead",
                returncode=1,
            )

    def _selection(self, operation, ids: list[str], options: dict) -> operations.Selection:
        """The deliveries to act on: named by id (each checked before any is
        touched: it exists, and the operation may act on it), or picked by the
        filters."""
        filters = _filters(options)
        for name in ("since", "until"):
            if options.get(name):
                try:
                    filters[name] = log.parse_moment(options[name])
                except ValueError as error:
                    raise CommandError(f"--{name}: {error}", returncode=2) from None
        if "older_than" in filters:
            if "until" in filters:
                raise CommandError("--older-than and --until say the same: give one", returncode=2)
            filters["until"] = filters.pop("older_than")
        all_dead = options.get("all_dead", False)
        if ids and all_dead:
            raise CommandError("name deliveries by id or say --all-dead, not both", returncode=2)
        if ids:
            if filters:
                raise CommandError(
                    "filters select the deliveries; with ids, name exactly the deliveries meant", returncode=2
                )
            rows = self._named(ids)
            selection = operations.Selection(ids=tuple(row.pk for row in rows))
            allowed = set(selection.rows(operation).values_list("pk", flat=True))
            refused = [row.pk for row in rows if row.pk not in allowed]
            if refused:
                raise CommandError(operations.why_not(operation, refused), returncode=1)
            return selection
        if not (filters or all_dead):
            raise CommandError(
                "name the deliveries by id, or select them: --policy, --since, --until, --event-type"
                + (", or say --all-dead" if operation != operations.Operation.SKIP else ""),
                returncode=2,
            )
        return operations.Selection(dead_only=all_dead, **filters)

    @staticmethod
    def _named(ids: list[str]) -> list[Delivery]:
        """The deliveries with these ids, in the order given (each once)."""
        wanted = list(dict.fromkeys(_positive(text, "a delivery id") for text in ids))
        rows = {row.pk: row for row in log.deliveries().filter(pk__in=wanted)}
        unknown = [str(pk) for pk in wanted if pk not in rows]
        if unknown:
            raise CommandError(f"no delivery {', '.join(unknown)}", returncode=2)
        return [rows[pk] for pk in wanted]


def _add_filters(parser, *, held: bool = True) -> None:
    parser.add_argument("--policy", help="Only deliveries to this policy (its full name).")
    parser.add_argument("--event-type", help="Only deliveries of events of this type, e.g. OrderConfirmed.")
    parser.add_argument(
        "--older-than", metavar="AGE", help="Only deliveries opened longer ago than 45s, 30m, 2h, 1d..."
    )
    parser.add_argument("--correlation-id", help="Only deliveries of one request's events.")
    if not held:  # an operation acts on what holds them, not on the held
        return
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


_WHAT = {
    operations.Operation.RETRY: "failed or dead-lettered",
    operations.Operation.SKIP: "waiting",
    operations.Operation.DISCARD: "dead-lettered",
}
_SETTLED = (Delivery.Status.DONE, Delivery.Status.SKIPPED)


def _shell_origin() -> str:
    """Who runs this shell, where: ``user@host``, the operating-system user
    (``getpass.getuser``), and the one who ran sudo, if sudo ran it
    (``app@web-1 (sudo by alice)``). Not an account: the shell signs nobody in."""
    try:
        user = getpass.getuser()
    except OSError:  # no login name and no entry in the password database (a container's bare uid)
        user = f"uid {os.getuid()}"
    origin = f"{user}@{socket.gethostname()}"
    if (sudo := os.environ.get("SUDO_USER")) and sudo != user:
        origin += f" (sudo by {sudo})"
    return origin


def _actor(text: str | None):
    """The operator's account: an id, or @username; ``None`` for none given."""
    if not text:
        return None
    try:
        actor_id = parse_uuid(str(registry.resolve_reference(text)))
    except LookupError:
        actor_id = None
    if actor_id is None:
        raise CommandError(f"--actor: {text!r} names no account (give its id or @username)", returncode=2)
    return actor_id


def _describe(outcomes: Counter) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
