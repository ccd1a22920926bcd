"""CPU time used by a tree of processes, read from ``/proc`` (Linux).

On a machine shared with other jobs, wall-clock figures move with their
load; the CPU seconds a request costs each process (load generator, web
workers, database) move much less, so they say where a request's time goes.
"""

import os
from pathlib import Path

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    # The command name (field 2) may hold spaces: the fields after it start past its ")".
    return text[text.rindex(")") + 2 :].split()


def tree_seconds(root: int) -> float:
    """CPU seconds (user and system) used so far by ``root`` and every
    descendant, including descendants already exited and reaped (their time
    is in their parent's children's counters). 0.0 once ``root`` is gone."""
    stats = {int(entry.name): _stat(int(entry.name)) for entry in PROC.iterdir() if entry.name.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        if fields:
            children.setdefault(int(fields[1]), []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if fields := stats.get(pid):
            # utime, stime, cutime, cstime: fields 14 to 17 of proc(5), 12 to 15 past the name.
            total += sum(int(value) for value in fields[11:15])
            pending.extend(children.get(pid, []))
    return total / _TICKS


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` on this machine (started
    with ``-p port``, as ``tests.support.pg_cluster`` does), if any."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"/postgres") and b"-p" in args:
            at = args.index(b"-p")
            if at + 1 < len(args) and args[at + 1] == str(port).encode():
                return int(entry.name)
    return None
