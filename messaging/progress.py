"""One progress display for every long command: how far, how fast, and how
long is left.

On a terminal it is a live bar (rich) on stderr, and the log's lines that go
to the same terminal are printed above the bar while it is drawn, never into
it. Anywhere else (a pipe, a file, a test's captured output, a service's
journal) it writes plain whole lines instead: one per tenth of the work, or
every ``PLAIN_EVERY`` seconds if a tenth takes longer, and one at the end.
Work whose size is not known beforehand shows its count and rate, no ETA.

    with progress(self.stderr) as display:
        bar = display.bar("rebuild", total=1200, unit="events")
        for batch in batches:
            ...
            bar.advance(len(batch))
"""

import io
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Live
from rich.progress import Task as LiveTask
from rich.text import Text

PLAIN_EVERY = 10.0  # seconds between plain lines at most, when a tenth of the work takes longer


class Bar:
    """One piece of work's progress: ``advance`` by a count done, or
    ``update`` to the count done so far (and the total, once known)."""

    def __init__(self, label: str, total: int | None, unit: str):
        self.label, self.total, self.unit = label, total, unit
        self.done, self.begun = 0, False
        self.started = time.monotonic()

    def advance(self, count: int = 1) -> None:
        """``count`` more done."""
        self.update(self.done + count)

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` done so far, of ``total`` if given."""
        self.done, self.begun = done, True
        if total is not None:
            self.total = total
        self._show()

    def finish(self) -> None:
        """The work is over (the display finishes every bar it drew when it closes)."""

    def _show(self) -> None:
        raise NotImplementedError


class _PlainBar(Bar):
    def __init__(self, label: str, total: int | None, unit: str, stream: TextIO):
        super().__init__(label, total, unit)
        self.stream, self.shown_tenth, self.shown_at, self.finished = stream, -1, None, False

    def _show(self) -> None:
        now = time.monotonic()
        tenth = 10 * self.done // self.total if self.total else 0
        due = self.shown_at is None or now - self.shown_at >= PLAIN_EVERY
        if (self.total and tenth > self.shown_tenth) or due:
            if self.total and self.done >= self.total:
                return self.finish()
            self.shown_tenth, self.shown_at = tenth, now
            self._write(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if not self.total:
            return f"{self.label}: {self.done:,} {self.unit}, {rate:,.0f}/s"
        left = (self.total - self.done) / rate if rate else None
        return (
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({100 * self.done // self.total}%), "
            f"{rate:,.0f}/s, ETA {_clock(left)}"
        )

    def finish(self) -> None:
        if self.finished or not self.begun:  # said already, or never begun: nothing to say
            return
        self.finished = True
        elapsed = max(time.monotonic() - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        self._write(f"{self.label}: {self.done:,}{of} {self.unit} in {_clock(elapsed)}, {self.done / elapsed:,.0f}/s")

    def _write(self, line: str) -> None:
        self.stream.write(f"{line}\n")
        self.stream.flush()


class _LiveBar(Bar):
    def __init__(self, label: str, total: int | None, unit: str, live: Live):
        super().__init__(label, total, unit)
        self.live, self.task = live, None

    def _show(self) -> None:
        if self.task is None:  # drawn from its first update: work that never began shows no bar
            self.task = self.live.add_task(self.label, total=self.total, unit=self.unit)
        self.live.update(self.task, completed=self.done, total=self.total)

    def finish(self) -> None:
        if self.task is not None and self.total is None:  # a bar of unknown size is full when its work is over
            self.live.update(self.task, total=self.done)


class _Rate(ProgressColumn):
    """The count per second, in the task's unit."""

    def render(self, task: LiveTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {task.fields['unit']}/s" if speed else "", style="progress.data.speed")


class Display:
    """The bars of one command, drawn live or as plain lines."""

    def __init__(self, stream: TextIO, live: Live | None):
        self.stream, self.live, self.bars = stream, live, []

    def bar(self, label: str, total: int | None = None, *, unit: str = "events") -> Bar:
        """A new bar for ``total`` ``unit`` (``None``: not known yet)."""
        if self.live is not None:
            bar = _LiveBar(label, total, unit, self.live)
        else:
            bar = _PlainBar(label, total, unit, self.stream)
        self.bars.append(bar)
        return bar

    def by_label(self, *, unit: str) -> Callable[[str, int], None]:
        """A ``progress(label, done)`` callback for work in several parts of
        unknown size: a bar for each label, drawn at its first count."""
        bars: dict[str, Bar] = {}

        def update(label: str, done: int) -> None:
            if label not in bars:
                bars[label] = self.bar(label, unit=unit)
            bars[label].update(done)

        return update


@contextmanager
def progress(stream: TextIO, *, console: Console | None = None) -> Iterator[Display]:
    """A progress display on ``stream`` (a command's ``self.stderr``): live
    when it is a terminal, plain lines otherwise. ``console`` draws the
    live bar somewhere else than ``stream`` (a test's terminal)."""
    # A command's stderr wraps the real stream and ends each write with a
    # newline: the live bar writes to what it wraps.
    target = getattr(stream, "_out", stream)
    if console is None and not _is_terminal(target):
        display = Display(stream, None)
        try:
            yield display
        finally:
            for bar in display.bars:
                bar.finish()
        return
    console = console or Console(file=target)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
    )
    with Live(*columns, console=console) as live, _logging_above(console):
        display = Display(stream, live)
        try:
            yield display
        finally:
            for bar in display.bars:
                bar.finish()


@contextmanager
def _logging_above(console: Console) -> Iterator[None]:
    """Send the log handlers writing to the bar's terminal through the
    console while the bar is drawn: each line is printed above the bar."""
    moved = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and _same_file(handler.stream, console.file):
            moved.append((handler, handler.setStream(_AboveTheBar(console))))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


class _AboveTheBar(io.TextIOBase):
    """A stream whose whole lines the console prints above its live bar,
    unwrapped (a log line stays one line to copy) and as written (no markup)."""

    def __init__(self, console: Console):
        self.console, self.pending = console, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.console.print(Text(line), soft_wrap=True, highlight=False)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.write("\n")


def _same_file(one, other) -> bool:
    if one is other:
        return True
    try:
        return one.fileno() == other.fileno()
    except (AttributeError, OSError, ValueError):
        return False


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float | None) -> str:
    """``0:01:05`` for 65 s; ``-:--:--`` when not known."""
    if seconds is None or math.isinf(seconds):
        return "-:--:--"
    return str(timedelta(seconds=round(seconds)))
