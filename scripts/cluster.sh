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
# make-run demo).  Run as root, the scratch directory is handed to postgres;
# when postgres cannot reach it at all (e.g. under /root), the cluster lives
# in a directory under /tmp, linked as $SCRATCH/cluster (or, for a scratch
# directory created here, $SCRATCH itself is that link).  So make test and
# make run work in either order in one checkout.
#
# Durability: the cluster runs with PostgreSQL's defaults (fsync,
# synchronous_commit, full_page_writes on): an answered call is on disk.
# Only a throwaway test cluster may trade that for speed: MTMCP_CLUSTER_FAST=1
# (set by make test) turns them off, in $DATA/mtmcp_fast.conf, which every
# start rewrites or removes -- a cluster started durable after a fast run is
# synced to disk first (initdb --sync-only).
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

pg_can_write() {	# DIR: may the postgres user create files in it?
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- test -w "$1" -a -x "$1" 2>/dev/null; else test -w "$1"; fi
}

# A postgres-owned directory under /tmp, linked as $1.
link_tmp() {
	local tmp
	tmp=$(mktemp -d /tmp/mtmcp-scratch.XXXXXX)
	chown postgres:postgres "$tmp"
	chmod 755 "$tmp"
	rm -f "$1"
	ln -s "$tmp" "$1"
}

prepare_scratch() {
	local created=false
	if [ ! -e "$SCRATCH" ]; then
		mkdir -p "$SCRATCH"
		created=true
	fi
	CL=$SCRATCH
	if [ "$(id -u)" = 0 ] && ! pg_can_write "$(readlink -f "$SCRATCH")"; then
		# ours (e.g. made by another flow as root): hand the directory itself to postgres
		[ -d "$SCRATCH" ] && [ ! -L "$SCRATCH" ] && chown postgres:postgres "$SCRATCH"
		if ! pg_can_write "$SCRATCH"; then
			# postgres cannot reach it at all (a parent it may not enter)
			if $created; then
				rmdir "$SCRATCH"
				link_tmp "$SCRATCH"
			else
				CL=$SCRATCH/cluster
				{ [ -L "$CL" ] && pg_can_write "$(readlink -f "$CL")"; } || link_tmp "$CL"
			fi
		fi
	fi
	# an older layout: the cluster already went to $SCRATCH/cluster
	if [ "$CL" = "$SCRATCH" ] && [ -L "$SCRATCH/cluster" ] && [ ! -e "$SCRATCH/pgdata" ]; then
		CL=$SCRATCH/cluster
	fi
	# the real path: postgres may not be able to walk through the link's directory
	CL=$(readlink -f "$CL")
	DATA=$CL/pgdata
	SOCK=$CL/run
	LOG=$CL/postgres.log
	as_pg mkdir -p "$SOCK"
}

# The durability settings for this start (see the header).
set_durability() {
	local fast=$DATA/mtmcp_fast.conf was_fast=false
	[ -f "$fast" ] && was_fast=true
	# clusters made before this file existed had the settings inline
	if grep -Eq '^(fsync|synchronous_commit|full_page_writes) = off$' "$DATA/postgresql.conf"; then
		as_pg sed -i -E '/^(fsync|synchronous_commit|full_page_writes) = off$/d' "$DATA/postgresql.conf"
		was_fast=true
	fi
	grep -q "^include_if_exists = 'mtmcp_fast.conf'" "$DATA/postgresql.conf" ||
		echo "include_if_exists = 'mtmcp_fast.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
	if [ "${MTMCP_CLUSTER_FAST:-0}" = 1 ]; then
		as_pg tee "$fast" >/dev/null <<CONF
# written by scripts/cluster.sh for MTMCP_CLUSTER_FAST=1 (a throwaway test
# cluster): a crash may lose committed transactions or corrupt the cluster
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
	else
		as_pg rm -f "$fast"
		# what ran without fsync may not be on disk yet
		if $was_fast; then as_pg "$BINDIR/initdb" --sync-only -D "$DATA" >/dev/null; fi
	fi
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
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
max_worker_processes = 8
max_parallel_workers_per_gather = 2
# the maintenance worker visits only the demo and the database of its own
# test (test/shell/maintenance_worker.sh), every second: pg_regress files
# run maintenance themselves and expect nothing else to
mtmcp.worker_databases = 'mtmcp_demo, mtmcp_worker_test'
mtmcp.worker_interval = 1
include_if_exists = 'mtmcp_fast.conf'
CONF
		# MTMCP_PGCONF: extra settings, one per line (test/scaleout: wal_level = logical)
		if [ -n "${MTMCP_PGCONF:-}" ]; then
			printf '%s\n' "$MTMCP_PGCONF" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
		fi
	fi
	set_durability
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
