"""Given / when / then for tests of the pipeline, on the real bus and database.

    def test_a_block_removes_the_follow(scenario):
        # given
        scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))
        # when
        outcome = scenario.when(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))
        # then
        outcome.then_events(AccountBlocked)
        outcome.then_cascade(AccountBlocked, FollowRemoved)
        outcome.then_deliveries(done=1)

``when`` runs the on-commit callbacks, as a real commit would, so policies
have run by the time it returns.
"""

import io
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from uuid import uuid4

from django.core.management import call_command

from . import bus, store
from .ambient import Cause, caused_by
from .messages import Command, Event, Result
from .models import Delivery, StoredEvent
from .registry import PolicyFunction, registry


class Outcome:
    """What one dispatched command led to, read back from the store."""

    def __init__(self, result: Result):
        self.result = result

    @property
    def events(self) -> list[Event]:
        """The command's own events (its rejection, if refused)."""
        return self.result.events

    @property
    def cascade(self) -> list[Event]:
        """Every event stored under the command's correlation id: its own and
        those of the commands its policies issued, in order."""
        return [store.load(row) for row in self._rows()]

    @property
    def deliveries(self) -> list[Delivery]:
        return list(Delivery.objects.filter(event__in=self._rows()).order_by("pk"))

    def then_events(self, *types: type[Event]) -> "Outcome":
        assert [type(e) for e in self.events] == list(types), f"events were {_names(self.events)}"
        return self

    def then_cascade(self, *types: type[Event]) -> "Outcome":
        cascade = self.cascade
        assert [type(e) for e in cascade] == list(types), f"cascade was {_names(cascade)}"
        return self

    def then_rejected(self, code: str) -> "Outcome":
        rejection = self.result.rejection
        assert rejection is not None, f"not refused; events were {_names(self.events)}"
        assert rejection.code == code, f"refused with {rejection.code!r} ({rejection.reason}), not {code!r}"
        return self

    def then_no_change(self) -> "Outcome":
        assert self.result.events == [], f"events were {_names(self.events)}"
        return self

    def then_deliveries(self, **statuses: int) -> "Outcome":
        counts = Counter(delivery.status for delivery in self.deliveries)
        assert dict(counts) == statuses, f"deliveries were {dict(counts)}"
        return self

    def _rows(self):
        return StoredEvent.objects.filter(correlation_id=self.result.command.correlation_id).order_by("position")


class Scenario:
    """Drives the real bus; built by the ``scenario`` pytest fixture."""

    def __init__(self, capture_on_commit_callbacks: Callable):
        self._capture = capture_on_commit_callbacks

    def given(self, *commands: Command) -> list[Result]:
        """Dispatch set-up commands; each must succeed."""
        results = []
        for command in commands:
            result = self.when(command).result
            assert result.ok, f"given {type(command).__name__} was refused: {result.rejection}"
            results.append(result)
        return results

    def when(self, command: Command, *, as_policy: str | None = None) -> Outcome:
        """Dispatch ``command`` and run what its commit would set off.

        ``as_policy="<policy name>"`` sends it as that policy would, in
        reaction to an event (made up for the test), which policy-only
        commands need: ``scenario.when(ReleaseStock(...), as_policy="release_stock_on_cancel")``.
        """
        with self._capture(execute=True), _caused_by_a_policy(as_policy):
            result = bus.dispatch(command)
        return Outcome(result)


@contextmanager
def _caused_by_a_policy(policy: str | None):
    if policy is None:
        yield
        return
    with caused_by(Cause(correlation_id=uuid4(), event_id=uuid4(), policy=policy)):
        yield


@contextmanager
def subscribed(
    event_type: type[Event],
    function: PolicyFunction,
    *,
    name: str | None = None,
    outside: bool = False,
    ordered_by=None,
    aliases=(),
    relay_only: bool = False,
):
    """Subscribe a policy for the duration of a test."""
    policy = registry.subscribe(
        event_type,
        function,
        name=name,
        outside=outside,
        ordered_by=ordered_by,
        aliases=aliases,
        relay_only=relay_only,
    )
    try:
        yield policy
    finally:
        registry.unsubscribe(policy)


@contextmanager
def retired(name: str, *, open_rows: str):
    """Declare the policy ``name`` retired for the duration of a test."""
    retirement = registry.retire(name, open_rows=open_rows)
    try:
        yield retirement
    finally:
        registry.unretire(name)


def _names(events) -> list[str]:
    return [type(event).__name__ for event in events]


def relay(*options: str) -> str:
    """Run ``relay_events`` once, as a relay worker's round would (it sends
    the outbox's mail, which no request does); what it printed."""
    out = io.StringIO()
    call_command("relay_events", *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()
