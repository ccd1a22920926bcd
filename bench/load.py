"""A bounded mixed load against gunicorn on a throwaway PostgreSQL cluster.

    .venv/bin/python -m bench.load [--seconds 30] [--clients 8] [--workers 4] [--short]

Starts its own PostgreSQL cluster and gunicorn on 127.0.0.1 (nothing else
is ever contacted), seeds accounts and books through the bus, then lets
client threads send a mix of reads and writes (browse books and profiles,
follow, block, unblock, order, cancel) until the time is up. Prints
requests per second, p50/p95/p99 latency per kind of request, the CPU
milliseconds a request cost the load generator, the gunicorn workers and
PostgreSQL (from /proc: on a shared machine these move far less than the
wall-clock figures), the number of 5xx answers (must be 0) and the result
of ``check_invariants`` (must pass); exits 1 if either fails. Stops by
itself.
"""

import argparse
import base64
import http.client
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
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from bench import cpu
from tests.support import gunicorn as served
from tests.support.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password-1"
# What each kind of request of the mix is, under /api/v1/ (the report's labels).
REQUESTS = {
    "read books": "GET books/",
    "read profile": "GET accounts/{id}/",
    "read relationship": "GET accounts/{id}/relationship/",
    "follow": "POST accounts/{id}/follow/",
    "block": "POST accounts/{id}/block/",
    "unblock": "POST accounts/{id}/unblock/",
    "order": "POST orders/",
    "cancel": "POST orders/{id}/cancel/",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="how long the load runs (default 30)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--accounts", type=int, default=40, help="accounts to seed (default 40)")
    parser.add_argument("--short", action="store_true", help="a few seconds, to prove it works (CI)")
    args = parser.parse_args()
    if args.short:
        args.seconds, args.clients, args.workers, args.accounts = 4, 4, 2, 12
    stats, invariants = load(args.seconds, args.clients, args.workers, args.accounts)
    return report(stats, args.seconds, invariants)


def load(seconds: float, clients: int, workers: int, accounts: int) -> tuple[dict, subprocess.CompletedProcess]:
    """Run the mixed load on a fresh cluster; the latencies and statuses
    seen, and the result of ``check_invariants`` afterwards."""
    with throwaway_cluster() as database_url, tempfile.TemporaryDirectory(prefix="load-static-") as static_root:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "load-test-" + uuid.uuid4().hex * 2,
            "PERSONAL_DATA_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "MESSAGING_LOG_LEVEL": "WARNING",
            "EMAIL_URL": "dummymail://",  # mails go nowhere
            "THROTTLE_RATE_AUTH": "100000/min",
            "THROTTLE_RATE_REGISTRATION": "100000/min",
            # simulated customers order as fast as the bench drives them, and keep their orders pending
            "THROTTLE_RATE_ORDERS": "100000/min",
            "ORDERS_MAX_HELD_COPIES": "100000",
            "STATIC_ROOT": static_root,
        }
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "collectstatic", "--no-input", "-v0")
        books = seed_books(env)
        web = gunicorn(env, workers)
        with web as base:
            # Each registration and sign-in hashes a password (slow on purpose): in parallel.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                users = list(pool.map(partial(register, base), range(accounts)))
            verify_addresses(env)
            servers = {"gunicorn": web.process.pid, "PostgreSQL": cpu.postmaster_pid(urlsplit(database_url).port)}
            stats = run_load(base, users, books, seconds, clients, servers)
        invariants = manage(env, "check_invariants", check=False)
    return stats, invariants


def manage(env, *command, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{result.stderr}")
    return result


def seed_books(env) -> list[str]:
    ids = []
    for n in range(5):
        out = manage(env, "send_command", "AddBook", f"title=Load test book {n}", "author=Bench", "price=9.99").stdout
        ids.append(json.loads(out.splitlines()[0])["payload"]["book_id"])
    for book_id in ids:
        manage(env, "send_command", "RestockBook", f"book_id={book_id}", "quantity=1000")
    return ids


class gunicorn:
    """gunicorn on a free loopback port for the duration of a ``with`` block."""

    def __init__(self, env, workers):
        self.port, self.env, self.workers = served.free_port(), env, workers

    def __enter__(self) -> str:
        self.process = served.start(
            self.port, "--access-logfile", "/dev/null", "--log-level", "warning", workers=self.workers, env=self.env
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                Client(f"127.0.0.1:{self.port}").request("GET", "/api/v1/books/")
                return f"127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        sys.exit("gunicorn did not start")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


class Client:
    """One keep-alive HTTP connection, with a token once signed in."""

    def __init__(self, host, token=None, timeout=30):
        self.host, self.token, self.timeout = host, token, timeout
        self.connection = http.client.HTTPConnection(host, timeout=timeout)

    def request(self, method, path, body=None, headers=None) -> tuple[int, dict | None]:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            self.connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (http.client.HTTPException, ConnectionError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, timeout=self.timeout)
            raise
        return response.status, (
            json.loads(raw) if raw and response.getheader("Content-Type", "").startswith("application/json") else None
        )


def register(host, n) -> dict:
    # Hashing the password is slow on purpose; on a machine busy with other
    # jobs, several at once can take longer than a request of the load may.
    client = Client(host, timeout=180)
    username = f"load_{n}_{uuid.uuid4().hex[:6]}"
    status, account = client.request(
        "POST", "/api/v1/accounts/", {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
    )
    assert status == 202, (status, account)
    status, token = client.request("POST", "/api/v1/auth/token/", {"username": username, "password": PASSWORD})
    assert status == 200, (status, token)
    status, me = Client(host, token["token"], timeout=180).request("GET", "/api/v1/accounts/me/")
    assert status == 200, (status, me)
    return {"id": me["id"], "token": token["token"]}


def verify_addresses(env) -> None:
    """Take the simulated customers' addresses as verified (their mail goes
    nowhere, and orders need it), in one statement: setup, not load."""
    code = (
        "from django.utils import timezone; from accounts.models import Account; "
        "Account.objects.filter(username__startswith='load_', email_verified_at=None)"
        ".update(email_verified_at=timezone.now())"
    )
    manage(env, "shell", "-c", code)


def run_load(host, users, books, seconds, clients, servers: dict[str, int | None] | None = None) -> dict:
    """Let ``clients`` threads send the mix for ``seconds``: the latencies
    per kind, the count per status, the wall-clock seconds taken (the last
    requests finish after the time is up) and the CPU seconds used meanwhile
    by this process (the load generator) and by each of ``servers`` (a name:
    the pid at the root of its process tree)."""
    servers = {name: pid for name, pid in (servers or {}).items() if pid}
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(seed):
        rng = random.Random(seed)
        me = rng.choice(users)
        client = Client(host, me["token"])
        my_orders = []
        while time.monotonic() < stop_at:
            other = rng.choice(users)["id"]
            kind, method, path, body = rng.choice(
                [
                    ("read books", "GET", "/api/v1/books/", None),
                    ("read profile", "GET", f"/api/v1/accounts/{other}/", None),
                    ("read relationship", "GET", f"/api/v1/accounts/{other}/relationship/", None),
                    ("follow", "POST", f"/api/v1/accounts/{other}/follow/", {}),
                    ("follow", "POST", f"/api/v1/accounts/{other}/follow/", {}),
                    ("block", "POST", f"/api/v1/accounts/{other}/block/", {}),
                    ("unblock", "POST", f"/api/v1/accounts/{other}/unblock/", {}),
                    ("order", "POST", "/api/v1/orders/", {"items": [{"book_id": rng.choice(books), "quantity": 1}]}),
                    (
                        "cancel",
                        "POST",
                        f"/api/v1/orders/{my_orders[-1]}/cancel/" if my_orders else "/api/v1/books/",
                        {},
                    ),
                ]
            )
            if kind == "cancel" and not my_orders:
                continue
            started = time.perf_counter()
            try:
                status, answer = client.request(method, path, body)
            except (OSError, http.client.HTTPException):
                status, answer = 599, None  # the connection failed: counted with the server errors
            elapsed = time.perf_counter() - started
            if kind == "order" and status == 201:
                my_orders.append(answer["id"])
            elif kind == "cancel":
                my_orders.pop()
            with lock:
                latencies[kind].append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    cpu_before = {"load generator": time.process_time()} | {
        name: cpu.tree_seconds(pid) for name, pid in servers.items()
    }
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cpu_after = {"load generator": time.process_time()} | {name: cpu.tree_seconds(pid) for name, pid in servers.items()}
    used = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed, "cpu": used}


def figures(stats, seconds) -> dict:
    """req/s over the whole mix, p50/p95/p99 (ms) of each kind of request
    (``kinds``), the CPU ms per request of each process measured, the 5xx
    count."""
    latencies, statuses = stats["latencies"], stats["statuses"]

    def cuts(kind):
        values = latencies[kind]
        found = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        return {"count": len(values), "p50": found[49] * 1000, "p95": found[94] * 1000, "p99": found[98] * 1000}

    total = sum(statuses.values())
    return {
        "req_s": total / stats.get("elapsed", seconds),
        "kinds": {kind: cuts(kind) for kind in sorted(latencies)},
        "cpu_ms": cpu_per_request(stats),
        "5xx": sum(count for status, count in statuses.items() if status >= 500),
    }


def cpu_per_request(stats) -> dict[str, float]:
    """CPU milliseconds per request, per process measured."""
    total = sum(stats["statuses"].values()) or 1
    return {name: seconds * 1000 / total for name, seconds in stats.get("cpu", {}).items()}


def report(stats, seconds, invariants) -> int:
    latencies, statuses = stats["latencies"], stats["statuses"]
    total = sum(statuses.values())
    elapsed = stats.get("elapsed", seconds)
    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    print(f"{total} requests in {elapsed:.1f}s: {total / elapsed:.0f} req/s")
    print(f"{'request':<20}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for kind, values in sorted(latencies.items()):
        cuts = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        print(f"{kind:<20}{len(values):>8}{cuts[49] * 1000:>10.1f}{cuts[94] * 1000:>10.1f}{cuts[98] * 1000:>10.1f}")
    spent = cpu_per_request(stats)
    print("CPU ms per request: " + ", ".join(f"{name} {ms:.2f}" for name, ms in spent.items()))
    print(f"load average after: {' '.join(f'{figure:.2f}' for figure in os.getloadavg())} on {os.cpu_count()} cores")
    print("status codes: " + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())))
    print(f"5xx: {server_errors}")
    print(f"check_invariants: {(invariants.stdout + invariants.stderr).strip()}")
    return 0 if server_errors == 0 and invariants.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
