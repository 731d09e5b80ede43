#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests. PostgreSQL refuses to run as
# root, so it runs as the dedicated system user `truevault-pg`.
#   pg.sh start <dir> <port>   init (if needed) and start; prints the admin URL
#   pg.sh stop <dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cmd="$1"; dir="$2"
PGBIN="$(dirname "$(command -v initdb 2>/dev/null || echo /usr/lib/postgresql/15/bin/initdb)")"
[ -x "$PGBIN/initdb" ] || PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u truevault-pg -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    port="$3"
    if [ "$(id -u)" = 0 ] && ! id truevault-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin truevault-pg
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown truevault-pg "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c lock_timeout=60s -c log_lock_waits=on -c deadlock_timeout=5s" \
      start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *) echo "usage: pg.sh start <dir> <port> | stop <dir>" >&2; exit 2 ;;
esac
