"""Run a command against a throwaway PostgreSQL cluster.

    python -m tests.support.pg_cluster -- pytest -q

initdb into a temporary directory (as the ``postgres`` user when run as
root, since PostgreSQL refuses to run as root), start the server on a free
port on 127.0.0.1, run the command with ``DATABASE_URL`` pointing at it,
then stop the server and delete the directory, whatever the command did.
Durability is switched off (fsync, full-page writes): nothing here is kept.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


def server_binaries(environ=os.environ, root: Path = Path("/usr/lib/postgresql")) -> Path:
    """Where initdb and pg_ctl are: ``PG_BIN``, else the bin directory of the
    highest major version Debian installed under ``root`` (whichever
    ``scripts/setup --test`` got), else ``root/15/bin`` to name in the error."""
    if environ.get("PG_BIN"):
        return Path(environ["PG_BIN"])
    installed = [path.parent for path in root.glob("*/bin/initdb") if path.parent.parent.name.isdigit()]
    if not installed:
        return root / "15" / "bin"
    return max(installed, key=lambda bin_dir: int(bin_dir.parent.name))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def throwaway_cluster():
    """Yield the DATABASE_URL of a fresh PostgreSQL server, stopped afterwards."""
    pg_bin = server_binaries()
    if not (pg_bin / "initdb").exists():
        sys.exit(f"PostgreSQL server binaries not found in {pg_bin} (run scripts/setup --test, or set PG_BIN)")
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL}
    subprocess.run(
        _as_server_user(
            [str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        **quiet,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        _as_server_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
        check=True,
        **quiet,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_server_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            **quiet,
        )
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        sys.exit("usage: python -m tests.support.pg_cluster -- COMMAND [ARGS...]")
    with throwaway_cluster() as url:
        print(f"PostgreSQL test cluster at {url}", flush=True)
        return subprocess.run(argv, env={**os.environ, "DATABASE_URL": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
