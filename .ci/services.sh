#!/usr/bin/env bash
# Make the services the test-suite needs available on this machine:
#   - PostgreSQL on 127.0.0.1:5432, trust auth for user postgres
#   - mosquitto + mosquitto_ctrl binaries and the dynamic security plugin (tests start
#     their own brokers),
#     and some broker answering on 127.0.0.1:1883
#   - chromium, for the console's browser tests
#   - promtool (Debian's prometheus package) and node, for the deploy and console checks
# Idempotent and quiet when everything is already up; needs root only when
# something has to be installed or started.
set -euo pipefail

PGHOST=127.0.0.1 PGPORT=5432
MQTT_HOST=127.0.0.1 MQTT_PORT=1883
did=()                                   # what we changed, for the summary

die() { echo "services.sh: ERROR: $*" >&2; exit 1; }
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

# apt-get update at most once, and only when we really install something.
apt_updated=
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to install: $*"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  if [ -z "$apt_updated" ]; then
    "${apt[@]}" update >/tmp/ci-apt-update.log 2>&1 \
      || { cat /tmp/ci-apt-update.log >&2; die "apt-get update failed"; }
    apt_updated=1
  fi
  "${apt[@]}" install -y --no-install-recommends "$@" >/tmp/ci-apt-install.log 2>&1 \
    || { tail -n 30 /tmp/ci-apt-install.log >&2; die "apt-get install $* failed"; }
  did+=("installed $*")
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

pg_ok() { psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -XAtqw -c 'select 1' >/dev/null 2>&1; }

# ---- PostgreSQL --------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || ! command -v psql >/dev/null \
   || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  apt_install postgresql
fi

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  # A package install normally creates cluster <ver>/main; create it if not.
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster --port "$PGPORT" "$ver" main >/dev/null || die "pg_createcluster $ver main failed"
    did+=("created cluster $ver/main")
  fi
  # pg_createcluster picks the next free port if 5432 was busy at install time.
  action=start cur=$(pg_conftool -s "$ver" main show port 2>/dev/null || echo "$PGPORT")
  if [ "$cur" != "$PGPORT" ]; then
    pg_conftool "$ver" main set port "$PGPORT"; action=restart
    did+=("moved $ver/main from port $cur to $PGPORT")
  fi
  # policy-rc.d / no systemd in containers: start the cluster directly.
  pg_ctlcluster --skip-systemctl-redirect "$ver" main "$action" \
    || die "could not start PostgreSQL $ver/main (see /var/log/postgresql/postgresql-$ver-main.log)"
  for _ in $(seq 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -q -h "$PGHOST" -p "$PGPORT" \
    || die "PostgreSQL $ver/main started but nothing answers on $PGHOST:$PGPORT (check 'port' in /etc/postgresql/$ver/main/postgresql.conf)"
  did+=("started PostgreSQL $ver/main")
fi

# Debian's default pg_hba wants a password over TCP; tests connect without one.
if ! pg_ok; then
  hba=$(su postgres -c "psql -XAtq -c 'show hba_file'" 2>/dev/null) \
    || die "PostgreSQL on $PGHOST:$PGPORT refuses passwordless login and its pg_hba.conf could not be located"
  if ! grep -q 'eldercare-ci' "$hba"; then
    # First matching line wins, so put ours before the distro defaults.
    sed -i '0,/^[[:space:]]*[^#[:space:]]/s//host all all 127.0.0.1\/32 trust  # eldercare-ci\n&/' "$hba"
  fi
  su postgres -c "psql -XAtq -c 'select pg_reload_conf()'" >/dev/null
  sleep 1
  pg_ok || die "psql -h $PGHOST -U postgres still needs a password after editing $hba"
  did+=("enabled trust auth in $hba")
fi

# ---- Mosquitto ---------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"      # mosquitto lives in /usr/sbin
if ! command -v mosquitto >/dev/null || ! command -v mosquitto_ctrl >/dev/null; then
  apt_install mosquitto mosquitto-clients
fi

if ! port_open "$MQTT_HOST" "$MQTT_PORT"; then
  # The Debian config writes its pid to /run/mosquitto, which systemd normally creates.
  install -d -o mosquitto -g mosquitto /run/mosquitto 2>/dev/null || mkdir -p /run/mosquitto
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || die "mosquitto -d -c /etc/mosquitto/mosquitto.conf failed"
  for _ in $(seq 10); do port_open "$MQTT_HOST" "$MQTT_PORT" && break; sleep 0.5; done
  port_open "$MQTT_HOST" "$MQTT_PORT" \
    || die "mosquitto started but nothing answers on $MQTT_HOST:$MQTT_PORT (see /var/log/mosquitto/mosquitto.log)"
  did+=("started mosquitto")
fi

# ---- Chromium (the console's browser tests drive Debian's build via Playwright) ----
if ! command -v chromium >/dev/null; then
  apt_install chromium fonts-wqy-microhei  # a CJK font: the console is in Chinese
fi

# ---- promtool (the shipped alert rules and Prometheus config are checked with it) ----
if ! command -v promtool >/dev/null; then
  # Debian ships promtool in the prometheus package, whose install would start the server:
  # policy-rc.d keeps it stopped (tests need only the tool).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt_install prometheus
fi

# ---- node (the console's JavaScript is syntax-checked and its texts compared) ----
if ! command -v node >/dev/null; then
  apt_install nodejs
fi

if [ ${#did[@]} -eq 0 ]; then
  echo "services.sh: ok (postgres $PGHOST:$PGPORT, mosquitto $MQTT_HOST:$MQTT_PORT already up)"
else
  summary=$(printf '%s; ' "${did[@]}")
  echo "services.sh: ok (${summary%; })"
fi
