# Functions scripts/setup uses, in a file of their own so that the suite can
# source them with a made-up PATH and PYENV_ROOT (tests/system/test_setup_script.py).

# The major.minor version that interpreter $1 reports ("3.13"), or nothing
# when it does not run (a pyenv shim for a version that is not selected).
python_minor() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# Print the path of an installed Python whose major.minor is $1 ("3.13"):
# the highest patch release under $PYENV_ROOT/versions, else python3.13 or
# python3 on PATH when they are that version. Any patch release will do,
# since the virtualenv is pinned by minor version only. Fails, printing
# nothing, rather than take another minor version.
find_python() {
  local want=$1 release candidate candidates=()
  local pyenv_versions=${PYENV_ROOT:-$HOME/.pyenv}/versions
  # Release directories only (3.13.7, not 3.13.0rc1, 3.13-dev or 3.13.1t),
  # highest first.
  while read -r release; do
    [ -n "$release" ] && candidates+=("$pyenv_versions/$release/bin/python")
  done < <(find "$pyenv_versions" -mindepth 1 -maxdepth 1 -name "$want.*" -printf '%f\n' 2>/dev/null \
             | grep -E "^${want//./\\.}\.[0-9]+$" | sort -rV)
  candidates+=("$(command -v "python$want" || true)" "$(command -v python3 || true)")
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if [ "$(python_minor "$candidate")" = "$want" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Install Debian packages, waiting first for another apt or dpkg run to let
# go of the lock (up to 10 minutes), as root or through sudo.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  for _ in $(seq 300); do
    # one name per pgrep: it matches no pattern longer than 15 characters
    pgrep -x apt >/dev/null || pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || break
    sleep 2
  done
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=600 install "$@" >/dev/null
}

# Whether Debian's PostgreSQL server binaries are there (any major version,
# or PG_BIN): what tests/support/pg_cluster.py looks for.
have_postgres_server() {
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/initdb" ]
  else
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
  fi
}
