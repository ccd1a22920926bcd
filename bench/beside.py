"""The product beside plain DRF (``bench.plain``), request by request.

    .venv/bin/python -m bench --only plain [--short]

One throwaway PostgreSQL cluster, the product's tables, two gunicorns (the
product as it serves itself, the plain app with the same workers and
recycling). For each kind of request (``KINDS``), in alternating rounds
(each round starts with the other side), clients send only that kind to
one side for a few seconds while the CPU that side's gunicorn and
PostgreSQL spend is read from /proc (``bench.cpu``); then the statements
each kind runs are counted in process (``bench.beside_django count``). The
figures are ratios, product / plain, of the same run: on a shared machine
the absolute milliseconds move with the neighbours, the ratios much less.
"""

import base64
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from bench import cpu
from bench.load import Client
from tests.support import gunicorn as served
from tests.support.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
# kind: (method, what the product's API calls it)
KINDS = {
    "GET a book": "GET books/{id}/",
    "GET a profile": "GET accounts/{id}/",
    "POST a follow": "POST accounts/{id}/follow/",
    "POST an order": "POST orders/",
    "POST a follow with Idempotency-Key": "POST accounts/{id}/follow/",
    "POST an order with Idempotency-Key": "POST orders/",
}
FULL = {
    "rounds": 5,
    "seconds": 6,
    "clients": 4,
    "workers": 2,
    "users": 40,
    "targets": 1500,
    "counted": 20,
    "depth": 300,
}
SHORT = {"rounds": 1, "seconds": 1.5, "clients": 2, "workers": 1, "users": 4, "targets": 500, "counted": 3, "depth": 20}


class Requests:
    """Each kind's next request; every follow is of a pair not followed yet
    (shared by both sides, so neither ever answers "already following")."""

    def __init__(self, seeded: dict, rng: random.Random):
        self.users, self.books, self.rng = seeded["users"], seeded["books"], rng
        pairs = [(user, target) for user in self.users for target in seeded["targets"]]
        rng.shuffle(pairs)
        self.pairs, self.lock = iter(pairs), threading.Lock()

    def next(self, kind: str) -> tuple[str, str, dict | None, str, str | None]:
        """(method, path, body, token, idempotency key or None)."""
        key = uuid.uuid4().hex if "Idempotency-Key" in kind else None
        if "follow" in kind:
            with self.lock:
                user, target = next(self.pairs, (None, None))
            if user is None:
                sys.exit("every pair of the seeded accounts follows already: seed more targets")
            return "POST", f"/api/v1/accounts/{target}/follow/", {}, user["token"], key
        user = self.rng.choice(self.users)
        if "order" in kind:
            body = {"items": [{"book_id": self.rng.choice(self.books), "quantity": 1}]}
            return "POST", "/api/v1/orders/", body, user["token"], key
        if "book" in kind:
            return "GET", f"/api/v1/books/{self.rng.choice(self.books)}/", None, user["token"], None
        return "GET", f"/api/v1/accounts/{self.rng.choice(self.users)['id']}/", None, user["token"], None


def drive(host: str, kind: str, requests: Requests, seconds: float, clients: int, pids: list[int]) -> dict:
    """``clients`` threads send ``kind`` to ``host`` for ``seconds``: how
    many answered, the statuses and the CPU seconds ``pids``' trees used."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    errors = []

    def loop():
        client = Client(host)
        try:
            while time.monotonic() < stop_at:
                method, path, body, client.token, key = requests.next(kind)
                status, answer = client.request(method, path, body, {"Idempotency-Key": key} if key else None)
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status >= 400:
                        statuses.setdefault("first refusal", answer)
        except Exception as error:  # noqa: BLE001 (reported below, after the other threads stop)
            errors.append(error)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    before = sum(cpu.tree_seconds(pid) for pid in pids)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        sys.exit(f"{kind} on {host}: {errors[0]!r}")
    used = sum(cpu.tree_seconds(pid) for pid in pids) - before
    answered = sum(n for status, n in statuses.items() if status != "first refusal")
    return {"statuses": statuses, "count": answered, "cpu_s": used}


def _django(side_env: dict, *args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.beside_django", *args], cwd=ROOT, env=side_env, stdout=subprocess.PIPE, text=True
    )
    if completed.returncode != 0:
        sys.exit(f"bench.beside_django {args[0]} failed")
    return json.loads(completed.stdout.splitlines()[-1])


def _started(process, port: int) -> str:
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            Client(host).request("GET", "/api/v1/")
            return host
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn did not start")


def measure(size: dict) -> dict:
    """Both sides, every kind, ``size["rounds"]`` alternating rounds; per
    kind the CPU ms per request of each side per round, their ratios, and
    the statements per request of each side."""
    print("measuring the product beside plain DRF...", file=sys.stderr, flush=True)
    with throwaway_cluster() as database_url, tempfile.TemporaryDirectory(prefix="beside-static-") as static_root:
        common = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "PYTHONPATH": str(ROOT),
        }
        product_env = {
            **common,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PERSONAL_DATA_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "MESSAGING_LOG_LEVEL": "WARNING",
            "THROTTLE_RATE_ORDERS": "1000000/min",
            "ORDERS_MAX_HELD_COPIES": "10000000",
            "STATIC_ROOT": static_root,
        }
        plain_env = {**common, "DJANGO_SETTINGS_MODULE": "bench.plain.settings"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=product_env, check=True
        )
        seeded = _django(
            product_env, "seed", json.dumps({"users": size["users"], "targets": size["targets"], "books": 5})
        )
        requests = Requests(seeded, random.Random(28))
        postgres = cpu.postmaster_pid(urlsplit(database_url).port)
        options = ["--workers", str(size["workers"]), "--access-logfile", "/dev/null", "--log-level", "warning"]
        with ExitStack() as stack:
            hosts, pids = {}, {}
            for side, env, app in (("product", product_env, "config.wsgi"), ("plain", plain_env, "bench.plain.wsgi")):
                port = served.free_port()
                command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", app]
                command += ["--bind", f"127.0.0.1:{port}", *options]
                process = subprocess.Popen(command, cwd=ROOT, env=env)
                stack.callback(process.wait, timeout=30)
                stack.callback(process.terminate)
                hosts[side], pids[side] = _started(process, port), [process.pid, postgres]
            for side in hosts:  # warm up: every worker imports, connects, compiles
                for kind in KINDS:
                    drive(hosts[side], kind, requests, 0.3, size["clients"], pids[side])
            runs = {kind: {"product": [], "plain": []} for kind in KINDS}
            for round_ in range(size["rounds"]):
                for kind in KINDS:
                    for side in ("product", "plain") if round_ % 2 == 0 else ("plain", "product"):
                        ran = drive(hosts[side], kind, requests, size["seconds"], size["clients"], pids[side])
                        success = 200 if kind.startswith("GET") else 201  # every follow is a new one
                        failed = {
                            status: n
                            for status, n in ran["statuses"].items()
                            if status not in (success, "first refusal")
                        }
                        if failed:
                            refusal = ran["statuses"].get("first refusal")
                            sys.exit(f"{side}, {kind}: answers other than {success}: {failed}, first: {refusal}")
                        runs[kind][side].append(ran["cpu_s"] * 1000 / ran["count"])
                print(f"  round {round_ + 1}/{size['rounds']} done", file=sys.stderr, flush=True)
        plan = {"requests": {kind: [requests.next(kind) for _ in range(size["counted"])] for kind in KINDS}}
        statements = {"product": _django(product_env, "count", json.dumps(plan))}
        for kind in KINDS:  # the plain side's follows must be new pairs too
            plan["requests"][kind] = [requests.next(kind) for _ in range(size["counted"])]
        statements["plain"] = _django(plain_env, "count", json.dumps(plan))
        deep = _django(product_env, "depth", json.dumps({"follows": 4999, "samples": size["depth"]}))
    return {
        "depth": deep,
        "kinds": {
            kind: {
                "product_runs": runs[kind]["product"],
                "plain_runs": runs[kind]["plain"],
                "product_ms": statistics.median(runs[kind]["product"]),
                "plain_ms": statistics.median(runs[kind]["plain"]),
                "ratios": [
                    mine / theirs for mine, theirs in zip(runs[kind]["product"], runs[kind]["plain"], strict=True)
                ],
                "statements": (statements["product"][kind], statements["plain"][kind]),
            }
            for kind in KINDS
        },
    }


def table(found: dict, size: dict) -> str:
    """The figures as a Markdown table: ratios of the same run, their spread over the rounds."""
    rows = [
        f"| request ({size['clients']} clients, {size['workers']} gunicorn workers a side, PostgreSQL, "
        f"{size['rounds']} alternating rounds of {size['seconds']:g} s) | CPU ms per request, product / plain "
        "(gunicorn + PostgreSQL) | CPU ratio, median (spread) | statements, product / plain |",
        "|---|---:|---:|---:|",
    ]
    for kind, figures in found["kinds"].items():
        ratios = figures["ratios"]
        spread = f" ({min(ratios):.2f} to {max(ratios):.2f})" if len(ratios) > 1 else ""
        product, plain = figures["statements"]
        rows.append(
            f"| {kind} (`{KINDS[kind]}`) | {figures['product_ms']:.2f} / {figures['plain_ms']:.2f} "
            f"| {statistics.median(ratios):.2f}{spread} | {product:g} / {plain:g} |"
        )
    deep, kinds = found["depth"], found["kinds"]

    def over(mine: str, side: str, theirs: str, other: str) -> str:
        ratios = [a / b for a, b in zip(kinds[mine][side + "_runs"], kinds[theirs][other + "_runs"], strict=True)]
        spread = f" ({min(ratios):.2f} to {max(ratios):.2f})" if len(ratios) > 1 else ""
        return f"{statistics.median(ratios):.2f}{spread}"

    def added(key: str, bare: str, side: str) -> str:
        """What a key adds to a request, in CPU ms: a cheap request makes
        the same cost a larger ratio, so the ratio alone misreads it."""
        extra = [a - b for a, b in zip(kinds[key][side + "_runs"], kinds[bare][side + "_runs"], strict=True)]
        return f"{statistics.median(extra):.2f}"

    keyed = {  # name: (with a key, without)
        "follow": ("POST a follow with Idempotency-Key", "POST a follow"),
        "order": ("POST an order with Idempotency-Key", "POST an order"),
    }
    rows += [
        "",
        "| measure (CPU, ratios of the same rounds: median, spread) | figure |",
        "|---|---:|",
        *(
            f"| a keyed {name} / the same without a key, product; plain "
            f"| {over(key, 'product', bare, 'product')}; {over(key, 'plain', bare, 'plain')} |"
            for name, (key, bare) in keyed.items()
        ),
        *(
            f"| what a key adds, {name}: CPU ms per request (median of the rounds), product; plain "
            f"| {added(key, bare, 'product')}; {added(key, bare, 'plain')} |"
            for name, (key, bare) in keyed.items()
        ),
        f"| a keyed order, product / an order without a key, plain "
        f"| {over(keyed['order'][0], 'product', 'POST an order', 'plain')} |",
        f"| a follow through the bus, in process, by an account following {deep['follows']:,} / none: "
        f"median ms; ratio | {deep['at_full_ms']:.2f} / {deep['at_0_ms']:.2f}; {deep['ratio']:.2f} |",
    ]
    return "\n".join(rows)


def run(short: bool) -> str:
    size = SHORT if short else FULL
    return table(measure(size), size)


if __name__ == "__main__":
    print(run("--short" in sys.argv))
