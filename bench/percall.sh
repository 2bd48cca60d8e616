#!/usr/bin/env bash
# bench/percall.sh -- database CPU per tools/call, without HTTP.
#
# A benchmark, not a test.  One pgbench connection (as mtmcp_shim, extended
# protocol with a prepared statement, as mtmcp-http sends them by default;
# PERCALL_PROTOCOL=extended: unnamed statements, as with --statements unnamed) calls
# mtmcp.mcp_http_text() with the bench's tools/call get_document over and over,
# followed by the reset query mtmcp-http's --help suggests when PERCALL_RESET=1.
# It prints calls per second and the CPU the whole cluster (postmaster and
# all its processes) used per call, in microseconds -- steadier than
# throughput on a shared machine.
#
# Settings: PERCALL_SECONDS (10), PERCALL_ROUNDS (3), PERCALL_RESET (0; 1: each
# call is followed by the reset statements, sent one by one),
# PERCALL_SAVE (a file to keep the token and session id in), PERCALL_SYNC
# (synchronous_commit of the calls, default off: no wait for the WAL flush,
# more calls per round);
# MTMCP_PGBIN, MTMCP_SCRATCH, MTMCP_PGPORT as for scripts/cluster.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
SECS=${PERCALL_SECONDS:-10}
ROUNDS=${PERCALL_ROUNDS:-3}
RESET=${PERCALL_RESET:-0}
DB=mtmcp_bench_percall
scripts/cluster.sh start >/dev/null
eval "$(scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
work=$(mktemp -d /tmp/mtmcp-bench-percall.XXXXXX)
trap 'rm -rf "$work"' EXIT
secret=$(openssl rand -hex 32)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$secret" -d "$DB" -f demo/demo.sql >/dev/null
tok=$(MTMCP_SECRET_HEX=$secret scripts/mint-token.sh -t acme -s bench-1 -l 3600)
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench-percall","version":"1"}}}'
sid=$(psql -X -At -U mtmcp_shim -d "$DB" -v tok="$tok" -v req="$init" <<<"SELECT session_id FROM mtmcp.mcp_http(:'tok', :'req'::jsonb, NULL, NULL)")
[ -n "$sid" ] || { echo "percall: no session" >&2; exit 1; }
psql -X -At -U mtmcp_shim -d "$DB" -v tok="$tok" -v sid="$sid" \
	<<<"SELECT http_status FROM mtmcp.mcp_http(:'tok', '{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}'::jsonb, :'sid', NULL)" >/dev/null
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}'
out=$(psql -X -At -U mtmcp_shim -d "$DB" -v tok="$tok" -v sid="$sid" -v req="$call" \
	<<<"SELECT http_status, response::text FROM mtmcp.mcp_http(:'tok', :'req'::jsonb, :'sid', NULL)")
grep -q 'Anvil launch plan' <<<"$out" || { echo "percall: tools/call did not answer the document: $out" >&2; exit 1; }
[ -z "${PERCALL_SAVE:-}" ] || printf '%s %s\n' "$tok" "$sid" >"$PERCALL_SAVE"
{
	# the statement mtmcp-http prepares (src/shim/pool.c, SQL_RPC_TEXT)
	echo "SELECT (r.a).http_status, (r.a).session_id, (r.a).response FROM (SELECT mtmcp.mcp_http_text('$tok'::text, '$call'::jsonb, '$sid'::text, NULL::text, NULL::jsonb) AS a OFFSET 0) r;"
	if [ "$RESET" = 1 ]; then
		echo "RESET ALL; SET client_min_messages = notice; DISCARD TEMP; DISCARD SEQUENCES; UNLISTEN *; SELECT pg_advisory_unlock_all();"
	fi
} >"$work/call.sql"
pm=$(head -1 "$(psql -X -At -d postgres -c 'SHOW data_directory')/postmaster.pid")
ticks() {	# utime+stime of the postmaster and its children, in clock ticks
	local p t=0
	for p in $pm $(ps --ppid "$pm" -o pid=); do
		t=$((t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	t0=$(ticks)
	res=$(PGOPTIONS="-c synchronous_commit=${PERCALL_SYNC:-off}" pgbench -n -M "${PERCALL_PROTOCOL:-prepared}" -U mtmcp_shim -c 1 -T "$SECS" -f "$work/call.sql" "$DB" 2>&1)
	t1=$(ticks)
	n=$(awk '/number of transactions actually processed/ { print $NF }' <<<"$res" | cut -d/ -f1)
	tps=$(awk '/^tps/ { printf "%.0f", $3 }' <<<"$res")
	echo "round $r: calls=$n calls/s=$tps cpu/call=$(( (t1 - t0) * 1000000 / hz / n )) us"
done
