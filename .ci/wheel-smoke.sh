#!/usr/bin/env bash
# The image's install path, without Docker: build the wheel from what the image's build
# context holds (.dockerignore applied), install it with constraints.txt into a CLEAN
# virtual environment (not editable; run from an empty directory, so no source file is
# on sys.path), then run it against the real services: --help, --version, the demo
# extra's absence, `db migrate`, and `eldercare run` until /readyz answers 200 and
# `eldercare healthcheck` passes, then SIGTERM (as `docker stop` sends) and a clean stop.
# A file missing from the wheel fails here.
#   bash .ci/wheel-smoke.sh    (after .ci/run's venv step: PostgreSQL on 127.0.0.1:5432,
#                               mosquitto installed, the repository's .venv for its helper)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"      # mosquitto lives in /usr/sbin
repo=$PWD
python=${PYTHON:-python3}
admin_url=${ELDERCARE_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}

work=$(mktemp -d /tmp/eldercare-wheel-smoke.XXXXXX)
db="eldercare_wheel_smoke_$RANDOM$RANDOM"
pids=()
fail() { echo "wheel-smoke: FAIL: $*" >&2; exit 1; }
psql_admin() { psql "$admin_url" -XAtq -v ON_ERROR_STOP=1 -c "$1" >/dev/null; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql_admin "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf -- '-- %s\n' "$*"; }

step "wheel, built from the image's build context"
"$python" - "$repo" "$work/context" <<'EOF'
# Copy the git-tracked files .dockerignore does not exclude (the patterns used there:
# names, dir/name, **/name, *.ext), as `docker build` would send them.
import fnmatch, shutil, subprocess, sys
from pathlib import Path
repo, dest = Path(sys.argv[1]), Path(sys.argv[2])
patterns = [p.strip().rstrip("/") for p in (repo / ".dockerignore").read_text().splitlines()
            if p.strip() and not p.startswith("#")]
def ignored(path: str) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], bare)):
                return True
    return False
files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                       cwd=repo, check=True, capture_output=True, text=True).stdout.split()
for name in files:
    if not ignored(name) and (repo / name).is_file():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, dest / name)
EOF
"$python" -m pip wheel -q --no-deps --wheel-dir "$work/dist" "$work/context"
wheel=$(ls "$work"/dist/eldercare-*.whl)
echo "$(basename "$wheel")"

step "clean virtual environment: the wheel and its dependencies, from constraints.txt"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check --constraint constraints.txt "$wheel"
export PATH="$work/venv/bin:$PATH"
mkdir "$work/run" && cd "$work/run"           # no source tree on sys.path from here on
for var in $(env | grep -o '^ELDERCARE_[A-Z0-9_]*'); do unset "$var"; done
python - "$work/venv" <<'EOF'
import importlib, sys
venv = sys.argv[1]
for name in ("core", "ingest", "storage", "detectors", "alerts", "simulators", "api", "eldercare"):
    module = importlib.import_module(name)
    assert module.__file__.startswith(venv), f"{name} imported from {module.__file__}"
EOF

step "eldercare --help, --version"
eldercare --help >"$work/help.txt" || fail "eldercare --help"
grep -q "ELDERCARE_DATABASE_URL" "$work/help.txt" || fail "--help lists no settings"
expected=$(cd "$repo" && "$python" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
[ "$(eldercare --version)" = "eldercare $expected" ] || fail "--version said '$(eldercare --version)'"
eldercare --version

step "eldercare demo without the demo extra: a one-line error"
set +e; eldercare demo >"$work/demo.out" 2>"$work/demo.err"; rc=$?; set -e
[ "$rc" = 2 ] || fail "demo without the extra exited $rc: $(cat "$work/demo.err")"
[ "$(wc -l <"$work/demo.err")" = 1 ] && grep -q "pip install 'eldercare\[demo\]'" "$work/demo.err" \
  || fail "demo without the extra said: $(cat "$work/demo.err")"
cat "$work/demo.err"

step "eldercare db migrate (PostgreSQL)"
psql_admin "CREATE DATABASE \"$db\""
export ELDERCARE_DATABASE_URL="${admin_url%/*}/$db"
eldercare db migrate || fail "db migrate"

step "a Mosquitto of the shipped configuration"
# The repository's helper writes deploy/mosquitto's config with a free port and the
# dynamic-security file with its admin login; the installed `eldercare broker init` then
# makes the ingest login, as an operator would.
"$repo/.venv/bin/python" - "$work/mosquitto" >"$work/mosquitto.env" <<'EOF'
import sys
from pathlib import Path
from eldercare.mosquitto import ADMIN_USER, make_mosquitto
broker = make_mosquitto(Path(sys.argv[1]))
print(f"port={broker.port}\nurl={broker.url()}\nadmin={broker.url(ADMIN_USER)}")
EOF
mqtt_port=$(sed -n 's/^port=//p' "$work/mosquitto.env")
export ELDERCARE_MQTT_URL=$(sed -n 's/^url=//p' "$work/mosquitto.env")
export ELDERCARE_BROKER_ADMIN_URL=$(sed -n 's/^admin=//p' "$work/mosquitto.env")
mosquitto -c "$work/mosquitto/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null && break; sleep 0.2; done
eldercare broker init || fail "broker init"

step "eldercare run: ready, healthy, stops on SIGTERM"
export ELDERCARE_API_PORT=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export ELDERCARE_LOG_FORMAT=json
eldercare run >"$work/run.out" 2>"$work/run.err" &
run_pid=$!
pids+=("$run_pid")
ready=
for _ in $(seq 120); do
  if python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$ELDERCARE_API_PORT/readyz', timeout=2).status != 200)" 2>/dev/null; then
    ready=1; break
  fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.5
done
[ -n "$ready" ] || fail "/readyz never answered 200; stderr: $(tail -20 "$work/run.err")"
echo "/readyz 200"
eldercare healthcheck || fail "eldercare healthcheck"
sleep 5                                          # a few seconds of the stack running
kill -TERM "$run_pid"
stopped=
for _ in $(seq 40); do kill -0 "$run_pid" 2>/dev/null || { stopped=1; break; }; sleep 0.25; done
[ -n "$stopped" ] || fail "still running 10 s after SIGTERM (docker stop would kill it)"
set +e; wait "$run_pid"; rc=$?; set -e
[ "$rc" = 130 ] || fail "exit code $rc after SIGTERM (expected 130, as on Ctrl-C)"
! grep -q "Traceback" "$work/run.err" || fail "traceback in the log: $(cat "$work/run.err")"
python - "$work/run.err" <<'EOF' || fail "a log line is not one JSON object"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(line).get("event") for line in lines]
assert "storage_backend" in events and lines, events
print(f"{len(lines)} log lines, each one JSON object")
EOF
echo "wheel-smoke: ok"
