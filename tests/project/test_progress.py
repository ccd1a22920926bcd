"""The long commands share one progress display (``messaging.progress``):
rate and time left, plain periodic lines when the output is no terminal, a
live bar on a terminal with the log lines printed above it, never into it."""

import io
import logging
import re

import pytest
from django.core.management import call_command

from accounts.commands import FollowAccount
from messaging import bus
from tests.support.factories import AccountFactory

RATE_AND_ETA = re.compile(r"\d[\d,]*/\d[\d,]* events \(\d+%\), [\d,.]+/s, ETA \d+:\d\d:\d\d")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, as an operator's is."""

    def isatty(self):
        return True


@pytest.fixture
def logged_to():
    """Route the log's lines to a stream as well, the way the settings send them to stderr."""
    handlers = []

    def route(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("LOG %(name)s %(message)s"))
        logging.getLogger().addHandler(handler)
        handlers.append(handler)

    yield route
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_with_captured_output_prints_lines_with_rate_and_time_left():
    # given
    people = AccountFactory.create_batch(6)
    for follower in people:
        for followee in people:
            if follower != followee:
                bus.dispatch(FollowAccount(follower_id=follower.pk, followee_id=followee.pk))

    # when
    err = io.StringIO()
    call_command("rebuild_projections", "--batch=3", stdout=io.StringIO(), stderr=err)

    # then
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue(), "no terminal: whole lines, no carriage returns"
    progress = [line for line in lines if RATE_AND_ETA.search(line)]
    assert len(progress) >= 3, lines
    assert re.search(r"\d[\d,]*/\d[\d,]* events in \d+:\d\d:\d\d, [\d,.]+/s", lines[-1]), lines[-1]


@pytest.mark.django_db(transaction=True)
def test_seed_demo_with_captured_output_prints_rate_and_time_left():
    err = io.StringIO()

    call_command("seed_demo", "--accounts=10", "--follows=20", "--books=2", "--orders=0", stdout=None, stderr=err)

    assert re.search(r"accounts: \d+/10 accounts \(\d+%\), [\d,.]+/s, ETA \d+:\d\d:\d\d", err.getvalue()), (
        err.getvalue()
    )
    assert re.search(r"follows: \d+/20 follows \(\d+%\), [\d,.]+/s, ETA", err.getvalue())


@pytest.mark.django_db(transaction=True)
def test_on_a_terminal_a_log_line_during_the_bar_stands_on_its_own_line(logged_to):
    # given: the seeding's commands log a line each (messaging.bus, INFO) to the same terminal
    terminal = Terminal()
    logged_to(terminal)

    # when
    call_command("seed_demo", "--accounts=8", "--follows=0", "--books=0", "--orders=0", stdout=None, stderr=terminal)

    # then: each log line starts a line of its own; none is glued to the bar
    pieces = [ANSI.sub("", piece) for piece in re.split(r"[\r\n]", terminal.getvalue())]
    logged = [piece for piece in pieces if "LOG messaging.bus" in piece]
    assert len(logged) >= 8
    line = re.compile(r"LOG messaging.bus RegisterSeededAccount \S+ -> 1 event\(s\) in [\d.]+ ms")
    assert all(line.fullmatch(piece) for piece in logged), logged
    assert any("accounts" in piece and "8/8" in piece for piece in pieces), "the bar itself was drawn"
