"""What one gunicorn worker costs to start, as ``gunicorn -c config/gunicorn.py
config.wsgi`` starts it: the master imports ``config/gunicorn.py`` once, then
each worker, forked from it, loads ``config.wsgi`` and, on its first request,
the URLconf (every view module). Measured in a forked child of a process that
did what the master does; printed as one JSON line::

    .venv/bin/python -m bench.worker_start            # median of 5 starts
    .venv/bin/python -m bench.worker_start --modules  # and the packages a worker imports, most modules first
    .venv/bin/python -m bench.worker_start --plain    # the plain DRF app's worker (bench/plain), for scale

CPU is the child's own (user + system), RSS its resident set once started,
and private what is not shared with the master (what each further worker adds).
"""

import argparse
import importlib
import json
import os
import resource
import statistics
import sys


def _private_mb() -> float:
    with open("/proc/self/smaps_rollup") as rollup:
        fields = dict(line.split(":", 1) for line in rollup if ":" in line)
    return sum(int(fields[name].split()[0]) for name in ("Private_Clean", "Private_Dirty")) / 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _start(app: str, report_modules: bool, pipe: int) -> None:
    """In the forked worker: what gunicorn's worker does before and at its first request."""
    before = set(sys.modules)
    started = resource.getrusage(resource.RUSAGE_SELF)
    importlib.import_module(app)  # django.setup, the apps, the middleware
    from django.urls import get_resolver

    get_resolver().resolve("/api/v1/orders/")  # the first request: the URLconf and every view module
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - started.ru_utime) + (usage.ru_stime - started.ru_stime)
    new = sorted(set(sys.modules) - before)
    timings = {"cpu_s": cpu, "rss_mb": _rss_mb(), "private_mb": _private_mb(), "modules": len(new)}
    if report_modules:
        timings["top_packages"] = _packages(new)
    os.write(pipe, json.dumps(timings).encode())
    os._exit(0)


def _packages(modules: list[str]) -> dict[str, int]:
    """How many modules each top-level package adds to the worker."""
    counts: dict[str, int] = {}
    for name in modules:
        top = name.split(".")[0]
        counts[top] = counts.get(top, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:25])


def one(app: str, report_modules: bool = False) -> dict:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _start(app, report_modules, write)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=5, help="workers started, one after another (default 5)")
    parser.add_argument("--modules", action="store_true", help="also list the packages a worker imports")
    parser.add_argument("--plain", action="store_true", help="the plain DRF app (bench.plain) instead of the product")
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    app = "bench.plain.wsgi" if args.plain else "config.wsgi"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.plain.settings" if args.plain else "config.settings")
    importlib.import_module("config.gunicorn")  # what the master imports before it forks (bench.beside: both sides)

    master = resource.getrusage(resource.RUSAGE_SELF)
    starts = [one(app) for _ in range(args.starts)]
    result = {
        "master_cpu_s": master.ru_utime + master.ru_stime,
        "cpu_s": statistics.median(start["cpu_s"] for start in starts),
        "cpu_s_spread": [min(s["cpu_s"] for s in starts), max(s["cpu_s"] for s in starts)],
        "rss_mb": statistics.median(start["rss_mb"] for start in starts),
        "private_mb": statistics.median(start["private_mb"] for start in starts),
        "modules": starts[0]["modules"],
    }
    if args.modules:
        result["top_packages"] = one(app, report_modules=True)["top_packages"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
