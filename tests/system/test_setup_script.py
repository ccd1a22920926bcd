"""scripts/setup picks the pinned Python by minor version, and the test
cluster finds whichever PostgreSQL Debian installed.

The interpreter search runs for real (``scripts/lib/setup.sh`` sourced by
bash) against a made-up PYENV_ROOT and PATH of fake interpreters, each a
shell script that answers with its version.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.pg_cluster import server_binaries

ROOT = Path(__file__).resolve().parents[2]


def fake_python(path: Path, minor: str, *, runs: bool = True) -> Path:
    """An executable at ``path`` that prints ``minor`` whatever it is asked,
    as a Python asked its version would (or, not ``runs``, fails like a
    pyenv shim for a version that is not selected)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {minor}\n" if runs else "#!/bin/sh\nexit 127\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path):
    """An empty PYENV_ROOT and a PATH holding only ``bin/`` and the system's tools."""
    (tmp_path / "pyenv" / "versions").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    return tmp_path


def find_python(machine: Path, want: str = "3.13") -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{machine / 'bin'}:/usr/bin:/bin",
        "PYENV_ROOT": str(machine / "pyenv"),
        "HOME": str(machine),
    }
    return subprocess.run(
        ["bash", "-c", f'source {ROOT / "scripts/lib/setup.sh"} && find_python "$0"', want],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )


def test_the_highest_patch_release_under_pyenv_is_taken(machine):
    versions = machine / "pyenv" / "versions"
    for release in ("3.13.0", "3.13.9", "3.13.10", "3.12.1"):
        fake_python(versions / release / "bin" / "python", release.rpartition(".")[0])
    for not_a_release in ("3.13.11rc1", "3.13-dev", "3.13.12t"):
        fake_python(versions / not_a_release / "bin" / "python", "3.13")

    found = find_python(machine)

    assert found.returncode == 0
    assert found.stdout.strip() == str(versions / "3.13.10" / "bin" / "python")


def test_python3_13_on_path_is_taken_when_pyenv_has_none(machine):
    fake_python(machine / "bin" / "python3", "3.11")
    wanted = fake_python(machine / "bin" / "python3.13", "3.13")

    assert find_python(machine).stdout.strip() == str(wanted)


def test_a_shim_that_does_not_run_is_passed_over(machine):
    fake_python(machine / "bin" / "python3.13", "3.13", runs=False)
    wanted = fake_python(machine / "bin" / "python3", "3.13")

    assert find_python(machine).stdout.strip() == str(wanted)


def test_an_older_python3_is_refused(machine):
    fake_python(machine / "bin" / "python3", "3.11")
    fake_python(machine / "pyenv" / "versions" / "3.12.1" / "bin" / "python", "3.12")

    found = find_python(machine)

    assert (found.returncode, found.stdout) == (1, "")


def copy_of_setup(machine: Path) -> Path:
    """scripts/ and .python-version in a directory of their own, with two
    locks of nothing, so that running setup there reaches no package index."""
    project = machine / "project"
    shutil.copytree(ROOT / "scripts", project / "scripts")
    shutil.copy(ROOT / ".python-version", project / ".python-version")
    (project / "requirements").mkdir()
    (project / "requirements" / "dev.txt").write_text("# nothing\n")
    (project / "requirements" / "runtime.txt").write_text("# nothing either\n")
    return project


def run_setup(machine: Path, project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{machine / 'bin'}:/usr/bin:/bin", "PYENV_ROOT": str(machine / "pyenv"), "HOME": str(machine)}
    return subprocess.run(
        [str(project / "scripts" / "setup"), *args], env=env, check=False, capture_output=True, text=True
    )


def stamp(project: Path, lock: str, name: str) -> None:
    """Record ``lock`` as installed in ``.venv``, as setup does after installing it."""
    digest = hashlib.sha256((project / "requirements" / lock).read_bytes()).hexdigest()
    (project / ".venv" / name).write_text(digest + "\n")


def venv_that_records(machine: Path, project: Path) -> Path:
    """A Python 3.13 installed, and a .venv whose python says 3.13 and
    writes down what else it was asked (a ``pip install``), into ``calls``."""
    fake_python(machine / "pyenv" / "versions" / "3.13.7" / "bin" / "python", "3.13")
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\ncase "$1" in -c) echo 3.13;; *) echo "$@" >> {project / "calls"};; esac\n')
    python.chmod(0o755)
    return project / "calls"


def test_setup_installs_only_the_runtime_lock_and_dev_or_test_the_dev_lock(machine):
    # given a virtualenv with nothing installed yet
    project = copy_of_setup(machine)
    calls = venv_that_records(machine, project)

    # when: what scripts/run asks for, then what scripts/test asks for
    running = run_setup(machine, project)
    installed_to_run = calls.read_text()
    testing = run_setup(machine, project, "--dev")

    # then
    assert (running.returncode, running.stdout) == (0, "Installing requirements/runtime.txt\n"), running.stderr
    assert "-r requirements/runtime.txt" in installed_to_run and "dev.txt" not in installed_to_run
    assert (testing.returncode, testing.stdout) == (0, "Installing requirements/dev.txt\n"), testing.stderr
    assert "-r requirements/dev.txt" in calls.read_text()


def test_the_dev_lock_installed_is_enough_to_run(machine):
    # given the dev set installed (it holds the runtime set's pins)
    project = copy_of_setup(machine)
    calls = venv_that_records(machine, project)
    stamp(project, "dev.txt", ".requirements.sha256")

    # when
    ran = run_setup(machine, project)

    # then: nothing installed
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert "install" not in (calls.read_text() if calls.exists() else "")


def test_an_unknown_option_is_refused_with_the_usage(machine):
    fake_python(machine / "pyenv" / "versions" / "3.13.7" / "bin" / "python", "3.13")

    ran = run_setup(machine, copy_of_setup(machine), "--tests")

    assert ran.returncode == 2 and "usage: scripts/setup [--dev | --test]" in ran.stderr


def test_setup_stops_with_a_clear_error_when_only_an_older_python_is_installed(machine):
    fake_python(machine / "bin" / "python3", "3.11")
    project = copy_of_setup(machine)

    ran = run_setup(machine, project)

    assert ran.returncode == 1
    assert "Python 3.13 is needed" in ran.stderr
    assert not (project / ".venv").exists()


def test_setup_keeps_a_virtualenv_of_another_patch_release(machine):
    # given .venv made with 3.13.0, its lock installed, and 3.13.7 now beside it
    fake_python(machine / "pyenv" / "versions" / "3.13.7" / "bin" / "python", "3.13")
    project = copy_of_setup(machine)
    venv_python = fake_python(project / ".venv" / "bin" / "python", "3.13")
    stamp(project, "runtime.txt", ".runtime-requirements.sha256")

    ran = run_setup(machine, project)

    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "", "")
    assert venv_python.read_text() == "#!/bin/sh\necho 3.13\n"


def test_the_cluster_uses_the_highest_postgresql_installed(tmp_path):
    for major in ("9", "15", "16"):
        fake_python(tmp_path / major / "bin" / "initdb", "-")  # any executable will do

    assert server_binaries({}, tmp_path) == tmp_path / "16" / "bin"
    assert server_binaries({"PG_BIN": "/opt/pg/bin"}, tmp_path) == Path("/opt/pg/bin")
