#!/usr/bin/env bash
# bench/router.sh -- what does the scale-out router cost?
#
# A benchmark, not a test.  Three clusters of its own (router, shards a and
# b, as test/scaleout sets them up), then, in alternating short rounds at the
# same concurrency, pgbench running the shim's call
#   SELECT * FROM mtmcp.mcp_http(token, tools/call noop, session, NULL)
#   direct1   against shard a, for tenant acme (which lives on a)
#   router1   against the router, for acme (verified, looked up, forwarded
#             through PL/Proxy to a, verified again there)
#   direct2   two pgbench at once, half the clients each: acme against a
#             and globex against b
#   router2   against the router, acme and globex mixed (two shards behind it)
# Prints median calls per second and the ratios router1/direct1 (target
# >= 0.7) and router2/direct2.  Everything runs on this one machine, so the
# router, both shards and pgbench share its cores: the ratios say what the
# router's work costs, not what separate machines would gain.  It also
# prints the server CPU time per call of the router and of the shard
# (direct1 and router1): what the router costs, hardly touched by noise.
#
#   bench/router.sh    BENCH_ROUNDS (5) BENCH_SECONDS (5) BENCH_CLIENTS (4)
#                      BENCH_PORT (55610: router; a, b on the next two)
#                      MTMCP_PGBIN (a private installation with plproxy; scripts/private-pg.sh)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-4}
P0=${BENCH_PORT:-55610}
PR=$P0 PA=$((P0 + 1)) PB=$((P0 + 2))
BASE=${BENCH_SCRATCH:-$REPO/.scratch/bench-router}
DB=mtmcp
work=$(mktemp -d /tmp/mtmcp-bench-router.XXXXXX)
chmod 755 "$work"

cl() {
	MTMCP_SCRATCH=$BASE/$1 MTMCP_PGPORT=$2 MTMCP_PGCONF="wal_level = logical
max_connections = 60" scripts/cluster.sh "$3"
}
cleanup() { cl router "$PR" stop; cl a "$PA" stop; cl b "$PB" stop; rm -rf "$work"; }
trap cleanup EXIT
q() { local port=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$DB" -c "$@"; }

for c in "router $PR" "a $PA" "b $PB"; do
	set -- $c
	cl "$1" "$2" fresh
	psql -X -q -h 127.0.0.1 -p "$2" -U postgres -d postgres -c "CREATE DATABASE $DB"
	q "$2" "CREATE EXTENSION mtmcp"
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U postgres -d "$DB" -f test/scaleout/app.sql >/dev/null
	q "$2" "CREATE FUNCTION app.noop(args jsonb) RETURNS jsonb LANGUAGE sql AS \$\$ SELECT '{\"ok\": true}'::jsonb \$\$;
		GRANT EXECUTE ON FUNCTION app.noop(jsonb) TO mtmcp_tool"
done
secret=$(openssl rand -hex 32)
q "$PR" "CREATE EXTENSION plproxy; SELECT mtmcp.enable_router('postgres')" >/dev/null
q "$PR" "SELECT mtmcp.add_shard('a', 'host=127.0.0.1 port=$PA dbname=$DB user=postgres');
		 SELECT mtmcp.add_shard('b', 'host=127.0.0.1 port=$PB dbname=$DB user=postgres')" >/dev/null
q "$PR" "SELECT count(*) FILTER (WHERE NOT ok) FROM mtmcp.admin_all(\$\$
	SELECT mtmcp.create_plan('pro', ARRAY['documents']);
	SELECT mtmcp.add_issuer('https://idp.bench', 'mtmcp-bench');
	SELECT mtmcp.add_key('https://idp.bench', NULL, 'HS256', decode('$secret', 'hex'));
	SELECT mtmcp.register_tool('noop', 'Does nothing.', '{\"type\":\"object\"}', 'app.noop(jsonb)')\$\$)" | grep -qx 0
for t in "acme a" "globex b"; do
	set -- $t
	q "$PR" "SELECT mtmcp.place_tenant('$1', '$2')" >/dev/null
	q "$PR" "SELECT count(*) FILTER (WHERE NOT ok) FROM mtmcp.admin_tenant('$1', \$\$CALL mtmcp.create_tenant('$1', 'pro', trusted_issuers => ARRAY['https://idp.bench'])\$\$)" | grep -qx 0
done
tok() { scripts/mint-token.sh -k "$secret" -t "$1" -s bench -i https://idp.bench -a mtmcp-bench -l 3600; }
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"noop","arguments":{}}}'
for t in acme globex; do
	token=$(tok $t)
	# the session is opened through the router: it lives on the tenant's shard, where the direct runs use it too
	sid=$(q "$PR" "SELECT session_id FROM mtmcp.mcp_http('$token', '$init', NULL)")
	[ -n "$sid" ] || { echo "bench: no session for $t" >&2; exit 1; }
	out=$(q "$PR" "SELECT response FROM mtmcp.mcp_http('$token', '$call', '$sid')")
	case $out in *'"isError": false'*) ;; *) echo "bench: the call does not succeed through the router: $out" >&2; exit 1 ;; esac
	cat >"$work/$t.sql" <<SQL
SELECT http_status FROM mtmcp.mcp_http('$token', '$call', '$sid', NULL);
SQL
done

pgb() {	# pgb PORT CLIENTS SCRIPT... -> tps (the number of calls in $work/calls)
	local port=$1 n=$2
	shift 2
	local args=()
	for f in "$@"; do args+=(-f "$f"); done
	pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c "$n" -j "$n" -T "$SECS" -M prepared "${args[@]}" "$DB" >"$work/pgb.$port" 2>/dev/null
	sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgb.$port" >"$work/calls"
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgb.$port"
}
# CPU time (ms) a cluster has used: its postmaster, the children it reaped
# (backends that ended) and the ones alive.  Unlike calls per second, this
# is hardly touched by what else the machine is doing.
postmaster() {	# NAME PORT -> the postmaster's pid
	local sock
	sock=$(cl "$1" "$2" env | sed -n 's/.*PGHOST=\([^ ]*\).*/\1/p')
	head -1 "${sock%/run}/pgdata/postmaster.pid"
}
cpu_ms() {	# PID -> ms
	local pid=$1 tck total c
	tck=$(getconf CLK_TCK)
	total=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13 + $14 + $15}')
	for c in $(pgrep -P "$pid"); do
		total=$((total + $(sed 's/^.*) //' "/proc/$c/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
	done
	echo $((total * 1000 / tck))
}
PM_R=$(postmaster router "$PR") PM_A=$(postmaster a "$PA")
: >"$work/cpu_direct"; : >"$work/cpu_router"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
: >"$work/direct1"; : >"$work/router1"; : >"$work/direct2"; : >"$work/router2"
for r in $(seq "$ROUNDS"); do
	a0=$(cpu_ms "$PM_A")
	pgb "$PA" "$CLIENTS" "$work/acme.sql" >>"$work/direct1"
	sleep 0.5	# the backends' exit is accounted
	echo "$(( $(cpu_ms "$PM_A") - a0 )) $(cat "$work/calls")" >>"$work/cpu_direct"
	r0=$(cpu_ms "$PM_R") a0=$(cpu_ms "$PM_A")
	pgb "$PR" "$CLIENTS" "$work/acme.sql" >>"$work/router1"
	sleep 0.5
	echo "$(( $(cpu_ms "$PM_R") - r0 )) $(( $(cpu_ms "$PM_A") - a0 )) $(cat "$work/calls")" >>"$work/cpu_router"
	pgb "$PA" $((CLIENTS / 2)) "$work/acme.sql" >"$work/d2a" & p1=$!
	pgb "$PB" $((CLIENTS - CLIENTS / 2)) "$work/globex.sql" >"$work/d2b" & p2=$!
	wait "$p1" "$p2"
	echo "$(cat "$work/d2a") + $(cat "$work/d2b")" | bc >>"$work/direct2"
	pgb "$PR" "$CLIENTS" "$work/acme.sql" "$work/globex.sql" >>"$work/router2"
	echo "round $r: direct1 $(tail -1 "$work/direct1")  router1 $(tail -1 "$work/router1")  direct2 $(tail -1 "$work/direct2")  router2 $(tail -1 "$work/router2")"
done
d1=$(median <"$work/direct1"); r1=$(median <"$work/router1"); d2=$(median <"$work/direct2"); r2=$(median <"$work/router2")
# the ratio of each round's adjacent runs, then their median: a shared machine's load drifts between rounds
q1=$(paste "$work/router1" "$work/direct1" | awk '{print $1 / $2}' | median)
q2=$(paste "$work/router2" "$work/direct2" | awk '{print $1 / $2}' | median)
echo
printf 'tools/call, %s clients, median of %s rounds of %ss (calls/s); ratio: median of the rounds'"'"' ratios\n' "$CLIENTS" "$ROUNDS" "$SECS"
printf '  one shard:  direct %8.0f   through the router %8.0f   ratio %.2f (target >= 0.7)\n' "$d1" "$r1" "$q1"
printf '  two shards: direct %8.0f   through the router %8.0f   ratio %.2f\n' "$d2" "$r2" "$q2"
# where the router's cost lies: server CPU per call, summed over the rounds
awk '{ms += $1; n += $2} END {printf "CPU per call (server processes, all rounds): direct: shard %.3f ms\n", ms / n}' "$work/cpu_direct"
awk '{r += $1; a += $2; n += $3} END {printf "                                    through the router: router %.3f ms + shard %.3f ms\n", r / n, a / n}' "$work/cpu_router"
