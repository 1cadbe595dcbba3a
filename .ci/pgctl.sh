#!/usr/bin/env bash
# Stop or start the PostgreSQL server a test run uses: `pgctl.sh system|tsdb stop|start`.
# The outage test calls this (via ELDERCARE_TEST_PG_CTL) to take the database away for real.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
which=${1:?system or tsdb}; action=${2:?stop or start}
here=$(cd "$(dirname "$0")" && pwd)
case "$which/$action" in
  system/stop|system/start)
    version=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main "$action" ;;
  tsdb/stop)
    root=${ELDERCARE_TSDB_CHROOT:-/var/cache/eldercare/tsdb-trixie}
    env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$(command -v chroot || echo /usr/sbin/chroot)" "$root" su postgres -s /bin/sh -c \
      "/usr/lib/postgresql/17/bin/pg_ctl -D /var/lib/postgresql/tsdb-data -m fast -w stop" >/dev/null ;;
  tsdb/start)
    "$here/timescaledb.sh" >/dev/null ;;
  *) echo "usage: pgctl.sh system|tsdb stop|start" >&2; exit 2 ;;
esac
