#!/usr/bin/env bash
# test/shim/scratch.sh -- scripts/cluster.sh: make test and make run in one
# checkout, either order, and durability by default.
#
#   1. a checkout where the test flow ran first (.scratch made by root, the
#      test cluster in .scratch/test): the demo flow (.scratch itself) can
#      still make its socket directory and cluster -- both for a checkout
#      postgres can enter and for one it cannot (like /root);
#   2. a cluster started without MTMCP_CLUSTER_FAST runs with fsync,
#      synchronous_commit and full_page_writes on; with MTMCP_CLUSTER_FAST=1
#      off; back without it: on again, also for a cluster whose
#      postgresql.conf still has the old inline "fsync = off" lines.
#
# Needs root (the flows differ only when run as root, which make test and
# make run are on a fresh machine) and PostgreSQL 15; uses its own
# directories under /tmp and port SCRATCH_TEST_PGPORT (default 55439).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=$REPO/scripts/cluster.sh
PORT=${SCRATCH_TEST_PGPORT:-55439}
unset MTMCP_CLUSTER_FAST MTMCP_SCRATCH MTMCP_PGPORT	# make test exports them for its own cluster
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
nok() { failed=$((failed + 1)); echo "FAIL - $1${2:+ ($2)}"; }

if [ "$(id -u)" != 0 ]; then
	echo "# not root: the two flows cannot differ in ownership; checking durability only"
fi
T=$(mktemp -d /tmp/mtmcp-scratch-test.XXXXXX)	# mode 700, root's: postgres cannot enter
chmod 700 "$T"
mkdir -p "$T/open"
chmod 755 "$T/open"
started=()
cleanup() {
	for s in "${started[@]}"; do MTMCP_SCRATCH=$s MTMCP_PGPORT=$PORT "$CLUSTER" stop >/dev/null 2>&1; done
	# clusters placed under /tmp for a directory postgres cannot enter
	find "$T" -type l 2>/dev/null | while read -r l; do
		d=$(readlink -f "$l"); case $d in /tmp/mtmcp-scratch.*) rm -rf "$d" ;; esac
	done
	rm -rf "$T"
}
trap cleanup EXIT

as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# 1. the test flow first, then the demo flow
if [ "$(id -u)" = 0 ]; then
	for where in open closed; do
		if [ $where = open ]; then
			repo=$T/open/repo label="a checkout postgres can enter"
		else
			repo=$T/closed/repo label="a checkout postgres cannot enter (like /root)"
		fi
		mkdir -p "$repo"
		[ $where = closed ] && chmod 700 "$T/closed"
		out=$(MTMCP_SCRATCH=$repo/.scratch/test MTMCP_PGPORT=$PORT "$CLUSTER" env 2>&1)
		sock_test=$(sed -n 's/.*PGHOST=\([^ ]*\) .*/\1/p' <<<"$out")
		out=$(MTMCP_SCRATCH=$repo/.scratch MTMCP_PGPORT=$PORT "$CLUSTER" env 2>&1)
		rc=$?
		sock=$(sed -n 's/.*PGHOST=\([^ ]*\) .*/\1/p' <<<"$out")
		if [ $rc = 0 ] && [ -n "$sock" ] && as_pg test -w "$sock" && as_pg test -w "$(dirname "$sock")" &&
			[ "$sock" != "$sock_test" ]; then
			ok "$label: the demo flow works after the test flow"
		else
			nok "$label: the demo flow works after the test flow" "$out"
		fi
	done
	# and a real start of the demo flow's cluster in the closed checkout
	if MTMCP_SCRATCH=$T/closed/repo/.scratch MTMCP_PGPORT=$PORT "$CLUSTER" start >"$T/start.log" 2>&1; then
		started+=("$T/closed/repo/.scratch")
		ok "the demo flow's cluster starts after the test flow (closed checkout)"
		MTMCP_SCRATCH=$T/closed/repo/.scratch MTMCP_PGPORT=$PORT "$CLUSTER" stop >/dev/null 2>&1
	else
		nok "the demo flow's cluster starts after the test flow (closed checkout)" "$(tail -3 "$T/start.log")"
	fi
fi

# 2. durability
S=$T/open/durable
settings() {
	eval "$(MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" env)"
	psql -X -Atq -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres \
		-c "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"
}
want_on="fsync=on,full_page_writes=on,synchronous_commit=on"
want_off="fsync=off,full_page_writes=off,synchronous_commit=off"
started+=("$S")
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" start >"$T/start.log" 2>&1
got=$(settings)
[ "$got" = "$want_on" ] && ok "a cluster started as make run does is durable ($got)" ||
	nok "a cluster started as make run does is durable" "$got $(tail -3 "$T/start.log")"
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" stop
MTMCP_CLUSTER_FAST=1 MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" start >"$T/start.log" 2>&1
got=$(settings)
[ "$got" = "$want_off" ] && ok "MTMCP_CLUSTER_FAST=1 (make test) trades durability for speed" ||
	nok "MTMCP_CLUSTER_FAST=1 (make test) trades durability for speed" "$got"
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" stop
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" start >"$T/start.log" 2>&1
got=$(settings)
[ "$got" = "$want_on" ] && ok "started again without it: durable again" || nok "started again without it: durable again" "$got"
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" stop
# a cluster made by the old cluster.sh had the settings inline
data=$(readlink -f "$S")/pgdata
printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' | as_pg tee -a "$data/postgresql.conf" >/dev/null
MTMCP_SCRATCH=$S MTMCP_PGPORT=$PORT "$CLUSTER" start >"$T/start.log" 2>&1
got=$(settings)
[ "$got" = "$want_on" ] && ok "a cluster from the old cluster.sh (inline fsync = off) becomes durable" ||
	nok "a cluster from the old cluster.sh (inline fsync = off) becomes durable" "$got"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
