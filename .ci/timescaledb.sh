#!/usr/bin/env bash
# Provide a TimescaleDB server on 127.0.0.1:5433 (trust auth, user postgres)
# and print its URL as the last (only) line of stdout; messages go to stderr.
#
# TimescaleDB is not packaged for bookworm, so we run Debian trixie's
# postgresql-17 + postgresql-17-timescaledb from a debootstrap chroot that is
# cached outside the checkout and reused across runs.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"            # chroot, debootstrap

ROOT=${ELDERCARE_TSDB_CHROOT:-/var/cache/eldercare/tsdb-trixie}
PORT=5433
PGBIN=/usr/lib/postgresql/17/bin
DATA=/var/lib/postgresql/tsdb-data     # inside the chroot
LOG=/var/lib/postgresql/tsdb.log       # inside the chroot
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
t0=$SECONDS

die() { echo "timescaledb.sh: ERROR: $*" >&2; exit 1; }
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }
tsdb_check() {  # prints "<version> <license>" if the server has a usable extension
  psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -XAtqw -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS timescaledb" \
    -c "SELECT extversion FROM pg_extension WHERE extname='timescaledb'" \
    -c "SHOW timescaledb.license" 2>&1 | paste -sd' '
}
# Run a command in the chroot as its postgres user, with a clean environment
# (host locale settings may not exist there; C.UTF-8 is built into glibc) and
# no inherited fds beyond 0-2, so the server never holds our lock or a caller's pipe.
in_chroot() (
  for fd in /proc/"$BASHPID"/fd/*; do fd=${fd##*/}; [ "$fd" -le 2 ] || eval "exec $fd>&-"; done 2>/dev/null
  exec env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$(command -v chroot)" "$ROOT" su postgres -s /bin/sh -c "$1"
)
built() {
  [ -x "$ROOT$PGBIN/postgres" ] && [ -f "$ROOT/usr/share/postgresql/17/extension/timescaledb.control" ] \
    && compgen -G "$ROOT/usr/lib/postgresql/17/lib/timescaledb*.so" >/dev/null
}
# Remove a (possibly half-built) tree; unmount anything debootstrap left mounted first.
nuke() {
  awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$1"
}

command -v psql >/dev/null && command -v pg_isready >/dev/null \
  || die "host psql/pg_isready missing: run .ci/services.sh first (or apt-get install postgresql-client)"

# Fast path: the server is already up and has the extension.
# (pg_isready exits 1 while a server is still starting up: wait for it.)
for _ in $(seq 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && ready=0 || ready=$?
  [ "$ready" = 1 ] || break; sleep 1
done
if [ "$ready" = 0 ]; then
  out=$(tsdb_check) || die "a PostgreSQL on 127.0.0.1:$PORT is not a usable TimescaleDB (trust auth, user postgres): $out"
  echo "timescaledb.sh: ok (already running, timescaledb $out)" >&2
  echo "$URL"; exit 0
fi
port_open && die "port $PORT is in use by something that is not PostgreSQL; free it first (ss -ltnp 'sport = :$PORT')"
[ "$(id -u)" = 0 ] || die "need root to build/start the chroot in $ROOT"

# Serialise concurrent runs (build + initdb + start).
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 900 9 || die "timed out waiting for another run holding $ROOT.lock"

did=()
if ! built; then
  if ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get -q update && apt-get -q -o DPkg::Lock::Timeout=600 install -y debootstrap; } >"$ROOT.apt.log" 2>&1 \
      || { tail -n 20 "$ROOT.apt.log" >&2; die "could not install debootstrap"; }
  fi
  # Use the Debian mirror this machine's apt already uses (first non-security URI).
  mirror=${ELDERCARE_DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v '^\s*#' \
      | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -1 | tr -d ' ' || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  tmp="$ROOT.build"
  nuke "$tmp"                                 # leftovers of an interrupted build
  echo "timescaledb.sh: building trixie chroot in $ROOT from $mirror (about a minute)..." >&2
  b0=$SECONDS
  debootstrap --variant=minbase --include=postgresql-17,postgresql-17-timescaledb \
      trixie "$tmp" "$mirror" >"$ROOT.build.log" 2>&1 \
    || { tail -n 20 "$ROOT.build.log" >&2; die "debootstrap failed (full log: $ROOT.build.log)"; }
  # The package's default cluster 17/main is never used (we run our own data dir).
  env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$(command -v chroot)" "$tmp" pg_dropcluster 17 main >/dev/null 2>&1 || true
  nuke "$ROOT"; mv "$tmp" "$ROOT"             # publish only a complete tree
  built || die "chroot built but postgres 17/timescaledb files are missing (see $ROOT.build.log)"
  did+=("built chroot in $((SECONDS - b0))s")
fi

if [ ! -f "$ROOT$DATA/PG_VERSION" ]; then
  rm -rf "$ROOT$DATA"
  install -d -m 700 "$ROOT$DATA"
  chroot "$ROOT" chown postgres:postgres "$DATA"
  in_chroot "$PGBIN/initdb -D $DATA -A trust -U postgres -E UTF8 --locale=C.UTF-8" >"$ROOT.initdb.log" 2>&1 \
    || { cat "$ROOT.initdb.log" >&2; die "initdb failed"; }
  echo "include 'eldercare.conf'" >>"$ROOT$DATA/postgresql.conf"
  did+=("initdb")
fi

# Our settings, rewritten each start. dynamic_shared_memory_type=mmap avoids
# needing /dev/shm in the chroot, so nothing has to be mounted.
cat >"$ROOT$DATA/eldercare.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '/tmp'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
dynamic_shared_memory_type = mmap
shared_buffers = 256MB
max_connections = 100
max_worker_processes = 16
timescaledb.max_background_workers = 8
fsync = on
EOF
chroot "$ROOT" chown postgres:postgres "$DATA/eldercare.conf"

# A pid file left by a killed server whose pid now belongs to another process blocks startup.
if pid=$(head -1 "$ROOT$DATA/postmaster.pid" 2>/dev/null) && ! grep -qs postgres "/proc/$pid/comm"; then
  rm -f "$ROOT$DATA/postmaster.pid"
fi

in_chroot "$PGBIN/pg_ctl -D $DATA -l $LOG -w -t 120 start" >"$ROOT.start.log" 2>&1 \
  || { cat "$ROOT.start.log" >&2; tail -n 20 "$ROOT$LOG" >&2; die "TimescaleDB server failed to start (log: $ROOT$LOG)"; }
did+=("started server")

out=$(tsdb_check) || die "server started but the timescaledb extension check failed: $out"
summary=$(printf '%s, ' "${did[@]}")
echo "timescaledb.sh: ok (${summary%, }; timescaledb $out; $((SECONDS - t0))s)" >&2
echo "$URL"
