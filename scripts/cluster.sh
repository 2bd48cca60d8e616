#!/usr/bin/env bash
# A scratch PostgreSQL 15 cluster for mtmcp, owned by the postgres OS user,
# with mtmcp in shared_preload_libraries.
#
#   scripts/cluster.sh start     start (initdb on first use)
#   scripts/cluster.sh fresh     throw away the data directory, then start
#   scripts/cluster.sh stop      stop if running
#   scripts/cluster.sh env       print PGHOST/PGPORT/PGUSER exports
#
# Data lives in .scratch/ under the repository (MTMCP_SCRATCH overrides;
# make test uses .scratch/test on its own port, so it never touches the
# make-run demo).  When the postgres user cannot reach the directory (e.g.
# under /root), it is a symlink to a directory under /tmp.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# MTMCP_PGBIN: the server binaries of a private copy of the installation
# (scripts/private-pg.sh), so that several checkouts can test side by side.
BINDIR=${MTMCP_PGBIN:-$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || pg_config --bindir)}
PORT=${MTMCP_PGPORT:-55432}
SCRATCH=${MTMCP_SCRATCH:-$REPO/.scratch}

as_pg() {	# from /, which postgres can always enter
	if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

prepare_scratch() {
	if [ ! -e "$SCRATCH" ]; then
		mkdir -p "$(dirname "$SCRATCH")"
		mkdir -p "$SCRATCH"
		if [ "$(id -u)" = 0 ]; then
			chown postgres:postgres "$SCRATCH"
			if ! runuser -u postgres -- test -w "$SCRATCH"; then
				rmdir "$SCRATCH"
				local tmp
				tmp=$(mktemp -d /tmp/mtmcp-scratch.XXXXXX)
				chown postgres:postgres "$tmp"
				chmod 755 "$tmp"
				ln -s "$tmp" "$SCRATCH"
			fi
		fi
	fi
	# the real path: postgres may not be able to walk through the link's directory
	SCRATCH=$(readlink -f "$SCRATCH")
	DATA=$SCRATCH/pgdata
	SOCK=$SCRATCH/run
	LOG=$SCRATCH/postgres.log
	as_pg mkdir -p "$SOCK"
}

is_running() {
	[ -f "$DATA/postmaster.pid" ] && as_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
	prepare_scratch
	if is_running; then return 0; fi
	if [ ! -f "$DATA/PG_VERSION" ]; then
		as_pg "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
		as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
# --- mtmcp scratch cluster ---
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'mtmcp'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
max_worker_processes = 8
max_parallel_workers_per_gather = 2
# the maintenance worker visits only the demo and the database of its own
# test (test/shell/maintenance_worker.sh), every second: pg_regress files
# run maintenance themselves and expect nothing else to
mtmcp.worker_databases = 'mtmcp_demo, mtmcp_worker_test'
mtmcp.worker_interval = 1
CONF
	fi
	as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
}

stop() {
	prepare_scratch
	if is_running; then
		as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
	fi
}

case "${1:-}" in
	start) start ;;
	fresh) stop; prepare_scratch; rm -rf "$DATA"; start ;;
	stop) stop ;;
	env) prepare_scratch; echo "export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres" ;;
	*) echo "usage: $0 start|fresh|stop|env" >&2; exit 2 ;;
esac
