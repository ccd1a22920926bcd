"""Run the benchmark and print its table; a full run also writes it into
docs/performance.md.

    .venv/bin/python -m bench            # minutes: the figures in the doc
    .venv/bin/python -m bench --short    # seconds: proves it works (CI)

Each database is measured in its own process (``bench.measure``): an SQLite
file under var/, an SQLite file on tmpfs (/dev/shm) and a throwaway
PostgreSQL cluster (``tests.pg_cluster``).
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from tests.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

FULL = {"flows_per_round": 250, "rounds": 4, "flatness": 100_000, "relay": 2000}
SHORT = {"flows_per_round": 5, "rounds": 1, "flatness": 200, "relay": 20}


def measure(label: str, database_url: str, config: dict) -> dict:
    print(f"measuring {label}...", file=sys.stderr, flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.measure", json.dumps(config)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "BENCH_LABEL": label},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def sqlite_url(directory: Path) -> str:
    path = directory / "bench.sqlite3"
    for leftover in directory.glob("bench.sqlite3*"):
        leftover.unlink()
    return f"sqlite:///{path}"


def machine(versions: list[str]) -> str:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    memory_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return (
        f"{os.cpu_count()} cores ({cpu.group(1).strip() if cpu else platform.processor()}), "
        f"{memory_kb / 1024**2:.0f} GiB memory, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {', '.join(versions)}"
    )


def table(results: dict[str, dict]) -> str:
    rows = [
        "| flow | database | pipeline (commands/s) | floor (commands/s) | pipeline / floor |",
        "|---|---|---:|---:|---:|",
    ]
    for flow in ("bookshelf", "workshop"):
        for label, result in results.items():
            figures = result[flow]
            rows.append(
                f"| {flow} | {label} | {figures['pipeline']:.0f} | {figures['floor']:.0f} | {figures['ratio']:.2f} |"
            )
    rows += ["", "| measure | figure |", "|---|---:|"]
    for label, result in results.items():
        if "flatness" in result:
            flat = result["flatness"]
            rows.append(
                f"| flatness, workshop pipeline on {label}: last tenth / first tenth of {flat['commands']:,} commands "
                f"| {flat['ratio']:.2f} |"
            )
        for workers, rate in result.get("relay", {}).items():
            rows.append(f"| relay on {label}, {workers} worker(s) (deliveries/s) | {rate:.0f} |")
    return "\n".join(rows)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="a few flows per database: proves it works, in seconds")
    args = parser.parse_args()
    config = SHORT if args.short else FULL

    results = {}
    (ROOT / "var").mkdir(exist_ok=True)
    results["SQLite file"] = measure("SQLite file", sqlite_url(ROOT / "var"), {**config, "relay": 0})
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        results["SQLite tmpfs"] = measure("SQLite tmpfs", sqlite_url(Path(shm)), {**config, "flatness": 0, "relay": 0})
    with throwaway_cluster() as url:
        results["PostgreSQL"] = measure("PostgreSQL", url, {**config, "flatness": 0})

    versions = [results["SQLite file"]["version"], results["PostgreSQL"]["version"]]
    text = f"Measured {date.today().isoformat()} on {machine(versions)}.\n\n{table(results)}"
    print(text)
    if not args.short:
        write_doc(text)
        print(f"\nwritten into {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
