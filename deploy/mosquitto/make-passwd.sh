#!/usr/bin/env bash
# Write deploy/mosquitto/passwd (hashed) for the ingest and simulator users from .env.
# Devices get their own entries (user name = device id): mosquitto_passwd -b FILE ID PASSWORD.
set -euo pipefail
cd "$(dirname "$0")/../.."
set -a; source .env; set +a
file=deploy/mosquitto/passwd
: > "$file"
if command -v mosquitto_passwd >/dev/null; then
  mosquitto_passwd -b "$file" ingest "$INGEST_MQTT_PASSWORD"
  mosquitto_passwd -b "$file" simulator "$SIMULATOR_MQTT_PASSWORD"
else  # use the broker image's own tool
  docker run --rm -v "$PWD/deploy/mosquitto:/work" eclipse-mosquitto:2.0.20 sh -c \
    "mosquitto_passwd -b /work/passwd ingest '$INGEST_MQTT_PASSWORD' &&
     mosquitto_passwd -b /work/passwd simulator '$SIMULATOR_MQTT_PASSWORD'"
fi
echo "wrote $file"
