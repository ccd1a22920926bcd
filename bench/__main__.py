"""Run the benchmark and print its table; a full run also writes it into
docs/performance.md.

    .venv/bin/python -m bench            # minutes: the figures in the doc
    .venv/bin/python -m bench --short    # seconds: proves it works (CI)
    .venv/bin/python -m bench --only personal   # what sealing costs, forgetting
    .venv/bin/python -m bench --only plain      # each request beside plain DRF (bench.beside)
    .venv/bin/python -m bench.worker_start      # one gunicorn worker's start: CPU, RSS, modules
    .venv/bin/python -m bench --only ordered    # relay deliveries/s with and without ordering keys
    .venv/bin/python -m bench --only rebuild    # the follow counts rebuilt without downtime, readers running
    .venv/bin/python -m bench --only backfill   # live delivery latency with and without a replay beside it

Each database is measured in its own process (``bench.measure``): an SQLite
file under var/, an SQLite file on tmpfs (/dev/shm) and a throwaway
PostgreSQL cluster (``tests.support.pg_cluster``). Forgetting is measured on a
database of its own (a second SQLite file, a second database in the
cluster), whose event log it grows to a million rows.
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

import psycopg

from bench import beside, load
from tests.support.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
READS_BEGIN, READS_END = "<!-- bench:reads:begin -->", "<!-- bench:reads:end -->"
HTTP_BEGIN, HTTP_END = "<!-- bench:http:begin -->", "<!-- bench:http:end -->"
PLAIN_BEGIN, PLAIN_END = "<!-- bench:plain:begin -->", "<!-- bench:plain:end -->"
ORDERED_BEGIN, ORDERED_END = "<!-- bench:ordered:begin -->", "<!-- bench:ordered:end -->"
REBUILD_BEGIN, REBUILD_END = "<!-- bench:rebuild:begin -->", "<!-- bench:rebuild:end -->"
BACKFILL_BEGIN, BACKFILL_END = "<!-- bench:backfill:begin -->", "<!-- bench:backfill:end -->"

FULL = {
    "flows_per_round": 250,
    "rounds": 4,
    "protean": {"flows_per_round": 50, "rounds": 2},
    "flatness": 100_000,
    "relay": 2000,
    "fanout": 30_000,
    "replay": True,
    "sealing": {"flows_per_round": 125, "rounds": 8},
    "forgetting": {"histories": [10_000, 1_000_000], "forgets": 20},
}
SHORT = {
    "flows_per_round": 5,
    "rounds": 1,
    "protean": {"flows_per_round": 1, "rounds": 1},
    "flatness": 200,
    "relay": 20,
    "fanout": 700,
    "replay": True,
    "sealing": {"flows_per_round": 3, "rounds": 2},
    "forgetting": {"histories": [1000, 10_000], "forgets": 20},
}
READS_FULL = {"accounts": 100_000, "follows": 1_000_000, "samples": 300}
READS_SHORT = {"accounts": 200, "follows": 1000, "samples": 50}
HTTP_FULL = {"seconds": 30, "clients": 8, "workers": 4, "accounts": 40}
HTTP_SHORT = {"seconds": 4, "clients": 4, "workers": 2, "accounts": 12}
ORDERED_FULL = [{"books": 2000, "workers": 4, "rounds": 3}]
ORDERED_SHORT = [{"books": 40, "workers": 4, "rounds": 1}]
# Each size on a cluster of its own: a tenth of the graph beside the whole, for comparison.
REBUILD_FULL = [
    {"accounts": 10_000, "follows": 100_000, "readers": 2},
    {"accounts": 100_000, "follows": 1_000_000, "readers": 2},
]
REBUILD_SHORT = [{"accounts": 200, "follows": 2000, "readers": 2}]
# Live commands at 30/s for a minute, alone, then beside the replay of 100,000 past follows: in the backfill lane
# at the default rate and at five times it (each run ends long before the replay would), then in the live lane.
BACKFILL_FULL = [
    {
        "accounts": 10_000,
        "follows": 100_000,
        "seconds": 60,
        "per_second": 30,
        "backfill_rates": [100, 500],
        "workers": 4,
    }
]
BACKFILL_SHORT = [
    {
        "accounts": 200,
        "follows": 2000,
        "seconds": 4,
        "per_second": 20,
        "backfill_rates": [200],
        "workers": 4,
    }
]


def measure(label: str, database_url: str, config: dict) -> dict:
    print(f"measuring {label}...", file=sys.stderr, flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.measure", json.dumps(config)],
        cwd=ROOT,
        # bench.settings whatever the caller's (the suite's run sets config.settings).
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "BENCH_LABEL": label,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        },
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def sqlite_url(directory: Path, name: str = "bench") -> str:
    path = directory / f"{name}.sqlite3"
    for leftover in directory.glob(f"{name}.sqlite3*"):
        leftover.unlink()
    return f"sqlite:///{path}"


def forgetting_on_sqlite(size: dict) -> dict:
    """Forgetting on an SQLite file of its own under var/, deleted afterwards (it holds a million events)."""
    url = sqlite_url(ROOT / "var", "forgetting")
    try:
        return measure("SQLite file", url, {"forgetting": size})
    finally:
        sqlite_url(ROOT / "var", "forgetting")


def forgetting_on_postgresql(cluster_url: str, size: dict) -> dict:
    """Forgetting on a database of its own in the cluster."""
    with psycopg.connect(cluster_url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE bench_forgetting")
    return measure("PostgreSQL", cluster_url.rsplit("/", 1)[0] + "/bench_forgetting", {"forgetting": size})


def machine(versions: list[str]) -> str:
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    memory_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return ", ".join(
        [
            f"{os.cpu_count()} cores ({cpu.group(1).strip() if cpu else platform.processor()})",
            f"{memory_kb / 1024**2:.0f} GiB memory",
            f"{platform.system()} {platform.release()}",
            f"Python {platform.python_version()}",
            *versions,
        ]
    )


def table(results: dict[str, dict]) -> str:
    rows = [
        "| flow | database | pipeline (commands/s) | floor (commands/s) | pipeline / floor "
        "| Protean 0.18 (commands/s) | Protean / floor |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    skipped = set()
    for flow in ("bookshelf", "workshop"):
        for label, result in results.items():
            if flow not in result:  # --only relay
                continue
            figures = result[flow]
            peer = figures.get("protean", {})
            if "skipped" in peer:
                skipped.add(peer["skipped"])
            protean = f"{peer['commands_per_s']:.0f} | {peer['ratio']:.2f}" if "ratio" in peer else "— | —"
            rows.append(
                f"| {flow} | {label} | {figures['pipeline']:.0f} | {figures['floor']:.0f} | {figures['ratio']:.2f} "
                f"| {protean} |"
            )
    rows += [f"\nProtean skipped: {why}." for why in sorted(skipped)]
    rows = (rows + [""] if len(rows) > 2 else []) + ["| measure | figure |", "|---|---:|"]
    for label, result in results.items():
        if "flatness" in result:
            flat = result["flatness"]
            rows.append(
                f"| flatness, workshop pipeline on {label}: last tenth / first tenth of {flat['commands']:,} commands "
                f"| {flat['ratio']:.2f} |"
            )
        for workers, rate in result.get("relay", {}).items():
            rows.append(f"| relay on {label}, {workers} worker(s) (deliveries/s) | {rate:.0f} |")
        for workers, rate in result.get("celery", {}).items():
            rows.append(f"| Celery (Redis broker) on {label}, {workers} worker(s) (deliveries/s) | {rate:.0f} |")
        if "replay" in result:
            played = result["replay"]
            rows.append(
                f"| replay of a new policy over {played['events']:,} past events on {label}: opened / delivered "
                f"(events/s) | {played['open_per_s']:.0f} / {played['end_to_end_per_s']:.0f} |"
            )
        if "fanout" in result:
            fan = result["fanout"]
            about = f"deactivating an account with {fan['follows']:,} follows on {label} (batches of {fan['batch']})"
            rows += [
                f"| {about}: the request answers (s) | {fan['answered_s']:.2f} |",
                f"| {about}: every follow gone (s) | {fan['settled_s']:.2f} |",
                f"| {about}: longest transaction (ms) | {fan['longest_transaction_ms']:.0f} |",
                f"| {about}: another writer's worst wait / p50 (ms, {fan['writes']} writes) "
                f"| {fan['writer_worst_wait_ms']:.0f} / {fan['writer_p50_ms']:.1f} |",
            ]
        rows += personal_rows(label, result)
    return "\n".join(rows)


def personal_rows(label: str, result: dict) -> list[str]:
    """What sealing personal data costs each flow, and forgetting at each size of history."""
    rows = []
    for flow, cost in result.get("sealing", {}).items():
        about = f"sealing personal data, {flow} on {label}"
        rows += [
            f"| {about}: pipeline sealed / unsealed / floor (commands/s) "
            f"| {cost['sealed']:.0f} / {cost['unsealed']:.0f} / {cost['floor']:.0f} |",
            f"| {about}: pipeline / floor sealed / unsealed; throughput lost "
            f"| {cost['sealed_ratio']:.2f} / {cost['unsealed_ratio']:.2f}; {cost['loss']:.1%} |",
        ]
    if "forgetting" in result:
        forgetting = result["forgetting"]
        histories = forgetting["histories"]
        for history in histories:
            rows.append(
                f"| forgetting a person on {label} with {history['events']:,} stored events: p50 / p95 "
                f"(ms, {forgetting['forgets']} forgets); statements per forget "
                f"| {history['p50']:.1f} / {history['p95']:.1f}; {history['statements']} |"
            )
        rows += [
            f"| forgetting on {label}: p50 at {histories[-1]['events']:,} / at {histories[0]['events']:,} "
            f"stored events | {forgetting['ratio']:.2f} |",
            f"| seeding the event log on {label}: to {histories[0]['events']:,} / then to "
            f"{histories[-1]['events']:,} rows (s) | {histories[0]['seed_seconds']:.1f} / "
            f"{histories[-1]['seed_seconds']:.1f} |",
        ]
    return rows


def reads_table(results: dict[str, dict]) -> str:
    rows = [
        "| read, in process | database | accounts | follows | p50 (ms) | p95 (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    seeds = []
    for label, result in results.items():
        if "reads" not in result:
            continue
        reads = result["reads"]
        for name in ("profile", "relationship", "followers page"):
            figures = reads[name]
            rows.append(
                f"| {name} | {label} | {reads['accounts']:,} | {reads['follows']:,} "
                f"| {figures['p50']:.2f} | {figures['p95']:.2f} |"
            )
        seeds.append(
            f"| bulk seed on {label} (`seed_demo --bulk`), {reads['accounts']:,} accounts and {reads['follows']:,} "
            f"follows (s) | {reads['seed_seconds']:.0f} |"
        )
    return "\n".join([*rows, "", "| measure | figure |", "|---|---:|", *seeds])


def http(size: dict) -> str:
    """The mixed load of ``bench.load`` against gunicorn on 127.0.0.1, its own cluster; a table."""
    print("measuring HTTP through gunicorn...", file=sys.stderr, flush=True)
    stats, invariants = load.load(size["seconds"], size["clients"], size["workers"], size["accounts"])
    if invariants.returncode != 0:
        sys.exit(f"check_invariants failed after the load:\n{invariants.stdout}{invariants.stderr}")
    found = load.figures(stats, size["seconds"])
    setting = f"{size['clients']} clients, {size['workers']} gunicorn workers, {size['seconds']:.0f} s, PostgreSQL"
    rows = ["| HTTP through gunicorn on 127.0.0.1 | figure |", "|---|---:|"]
    rows.append(f"| mixed reads and writes ({setting}): requests/s | {found['req_s']:.0f} |")
    for kind, cuts in found["kinds"].items():
        rows.append(
            f"| {kind} ({load.REQUESTS[kind]}), p50 / p95 / p99 (ms, {cuts['count']} requests) "
            f"| {cuts['p50']:.1f} / {cuts['p95']:.1f} / {cuts['p99']:.1f} |"
        )
    spent = found["cpu_ms"]
    if spent:
        rows.append(
            f"| CPU per request, {' / '.join(spent)} (ms) | {' / '.join(f'{ms:.2f}' for ms in spent.values())} |"
        )
    rows.append(f"| 5xx answers | {found['5xx']} |")
    return "\n".join(rows)


def ordered_table(results: list[dict]) -> str:
    """Relay deliveries/s with and without ordering keys, and their ratio (one size)."""
    (result,) = results
    ratio = result["ordered"] / result["unordered"]
    return "\n".join(
        [
            f"Relay on PostgreSQL, {result['workers']} worker processes, {result['deliveries']} deliveries a run "
            f"(best of alternating runs; keys shared by {4} events each):",
            "",
            "| deliveries | unordered (deliveries/s) | ordered by key (deliveries/s) | ordered / unordered |",
            "|---|---|---|---|",
            f"| {result['deliveries']:,} | {result['unordered']:.0f} | {result['ordered']:.0f} | {ratio:.2f} |",
        ]
    )


def rebuild_table(results: list[dict]) -> str:
    """The zero-downtime rebuild at each size: the seed, the rebuild's time
    and rate, the swap, what readers saw."""
    rows = [
        "`rebuild_projections follow_counts` on PostgreSQL (a fresh cluster for each size), "
        f"with {results[0]['readers']} readers running:",
        "",
        "| follows | accounts | bulk seed (s) | events replayed | rebuild (s) | events/s | swap, writers held (ms) "
        "| figures changed | reads during it | partial figures seen | drift after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        rows.append(
            f"| {result['follows']:,} | {result['accounts']:,} | {result['seed_seconds']:.1f} | {result['events']:,} "
            f"| {result['seconds']:.1f} | {result['events_per_s']:.0f} | {result['swap_ms']:.0f} "
            f"| {result['changed']} | {result['reads']:,} | {result['partial']} | {result['drift_after']} |"
        )
    largest = results[-1]
    seen = (
        "no reader saw a partial figure"
        if not largest["partial"]
        else f"readers saw {largest['partial']} partial figures"
    )
    rows += [
        "",
        f"A zero-downtime rebuild of the follow counts at {largest['follows']:,} follows with readers running "
        f"({seen} in {largest['reads']:,} reads; writers held {largest['swap_ms']:,.0f} ms).",
    ]
    return "\n".join(rows)


def backfill_table(results: list[dict]) -> str:
    """Live delivery latency alone, beside a replay at each rate and in the live lane; the backfill's rates
    (one size)."""
    (result,) = results
    names = {
        "alone": lambda run: "alone",
        "backfill": lambda run: f"beside the replay, backfill lane at {run['rate']:g}/s",
        "live lane": lambda run: "beside the replay in the live lane (`replay --live`: as before lanes)",
    }
    rows = [
        f"Live `AddBook` at {result['per_second']:g}/s for {result['seconds']:g} s, its stock's deliveries relayed "
        f"by {result['workers']} worker processes on PostgreSQL, beside the replay of {result['replayed']:,} past "
        f"follows (opened in {result['open_seconds']:.0f} s):",
        "",
        "| live deliveries | sent | p50 / p95 (ms) | p95 / alone's | backfill (deliveries/s) |",
        "|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        rate = f"{run['backfill_rate']:.0f}" if "backfill_rate" in run else "-"
        rows.append(
            f"| {names[run['run']](run)} | {run['count']:,} | {run['p50']:.0f} / {run['p95']:.0f} "
            f"| {run['ratio_p95']:.2f} | {rate} |"
        )
    return "\n".join(rows)


SECTIONS = {
    "ordered": (ORDERED_FULL, ORDERED_SHORT, ordered_table, (ORDERED_BEGIN, ORDERED_END)),
    "rebuild": (REBUILD_FULL, REBUILD_SHORT, rebuild_table, (REBUILD_BEGIN, REBUILD_END)),
    "backfill": (BACKFILL_FULL, BACKFILL_SHORT, backfill_table, (BACKFILL_BEGIN, BACKFILL_END)),
}
"""The kernel's sections, each on a cluster of its own: full and short sizes, its table, its marks in the doc."""


def section(name: str, short: bool) -> str:
    """One kernel section (``SECTIONS``), each of its sizes on a throwaway
    PostgreSQL cluster of its own."""
    full, brief, render, _ = SECTIONS[name]
    results = []
    for size in brief if short else full:
        with throwaway_cluster() as url:
            results.append(measure("PostgreSQL", url, {name: size}))
    text = render([result[name] for result in results])
    return f"Measured {date.today().isoformat()} on {machine([results[0]['version']])}.\n\n{text}"


def write_doc(text: str, begin: str = BEGIN, end: str = END) -> None:
    doc = DOC.read_text()
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[stop:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="a few flows per database: proves it works, in seconds")
    parser.add_argument(
        "--only",
        choices=["flows", "relay", "reads", "http", "personal", "plain", "ordered", "rebuild", "backfill"],
        help="one section: the flows, flatness and relay; the relay and Celery alone (PostgreSQL); "
        "the reads at scale; HTTP through gunicorn; personal data, what sealing costs the flows and "
        "forgetting at two sizes of history (SQLite file and PostgreSQL; printed, not written); or each "
        "request of the API beside plain DRF's (CPU and statements, product / plain); the relay with and "
        "without ordering keys (4 workers, PostgreSQL); the follow counts rebuilt without downtime "
        "while readers read (PostgreSQL); or live delivery latency with and without a replay of past "
        "follows beside it (4 relay workers, PostgreSQL)",
    )
    parser.add_argument("--reads-accounts", type=int, help="accounts for the reads at scale (default 100,000)")
    parser.add_argument("--reads-follows", type=int, help="follows for the reads at scale (default 1,000,000)")
    args = parser.parse_args()
    config = SHORT if args.short else FULL
    with_personal = args.only in (None, "personal")
    sealing, forgetting = config["sealing"] if with_personal else None, config["forgetting"]
    # Personal data on the SQLite file and PostgreSQL alone: sealing in the process of their flows,
    # forgetting in one of its own, on a database of its own (added below).
    config = {**config, "sealing": None, "forgetting": None}
    if args.only == "reads":
        config = {**config, "flows_per_round": 0, "flatness": 0, "relay": 0, "fanout": 0}
    if args.only == "relay":
        config = {"relay": config["relay"]}
    if args.only == "personal":
        config = {}
    reads = {**(READS_SHORT if args.short else READS_FULL)}
    reads.update({k: v for k, v in (("accounts", args.reads_accounts), ("follows", args.reads_follows)) if v})

    results = {}
    if args.only in SECTIONS:
        text = section(args.only, args.short)
        print(text)
        if not args.short:
            write_doc(text, *SECTIONS[args.only][3])
        return
    if args.only == "plain":
        text = beside.run(args.short)
        print(text)
        if not args.short:
            write_doc(f"Measured {date.today().isoformat()} on {machine([])}.\n\n{text}", PLAIN_BEGIN, PLAIN_END)
        return
    if args.only == "http":
        text = http(HTTP_SHORT if args.short else HTTP_FULL)
        print(text)
        if not args.short:
            write_doc(f"Measured {date.today().isoformat()} on {machine([])}.\n\n{text}", HTTP_BEGIN, HTTP_END)
        return
    if args.only not in ("reads", "relay"):
        (ROOT / "var").mkdir(exist_ok=True)
        results["SQLite file"] = measure(
            "SQLite file", sqlite_url(ROOT / "var"), {**config, "relay": 0, "sealing": sealing}
        )
        if args.only != "personal":
            with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
                results["SQLite tmpfs"] = measure(
                    "SQLite tmpfs", sqlite_url(Path(shm)), {**config, "flatness": 0, "relay": 0, "fanout": 0}
                )
        if with_personal:
            results["SQLite file"].update(forgetting_on_sqlite(forgetting))
    with throwaway_cluster() as url:
        with_reads = args.only not in ("flows", "relay", "personal")
        pg_config = {**config, "flatness": 0, "reads": reads if with_reads else None, "sealing": sealing}
        results["PostgreSQL"] = measure("PostgreSQL", url, pg_config)
        if with_personal:
            results["PostgreSQL"].update(forgetting_on_postgresql(url, forgetting))

    versions = [result["version"] for result in results.values()]
    header = f"Measured {date.today().isoformat()} on {machine(sorted(set(versions)))}."
    flows_text = f"{header}\n\n{table(results)}" if args.only != "reads" else None
    reads_text = f"{header}\n\n{reads_table(results)}" if with_reads else None
    http_text = http(HTTP_SHORT if args.short else HTTP_FULL) if args.only is None else None
    plain_text = beside.run(args.short) if args.only is None else None
    print("\n\n".join(text for text in (flows_text, reads_text, http_text, plain_text) if text))
    if not args.short and args.only not in ("relay", "personal"):  # alone, they would overwrite the flows' table
        if flows_text:
            write_doc(flows_text)
        if reads_text:
            write_doc(reads_text, READS_BEGIN, READS_END)
        if http_text:
            write_doc(f"{header}\n\n{http_text}", HTTP_BEGIN, HTTP_END)
        if plain_text:
            write_doc(f"{header}\n\n{plain_text}", PLAIN_BEGIN, PLAIN_END)
        print(f"\nwritten into {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
