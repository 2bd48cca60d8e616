#!/usr/bin/env bash
# bench/versus.sh -- mtmcp-http against what a team would build instead.
#
# A benchmark, not a test.  The peer (bench/peer/) is the same service built
# the usual way: the official MCP TypeScript SDK (Streamable HTTP, a session
# per client), express, a pg Pool, jose for HS256 tokens, RLS through
# set_config('app.tenant', ..., true), one audit INSERT per call.  Both serve
# the same rows (the demo's documents; the peer's copy in peer.*) from one
# scratch cluster, on loopback, and are driven by the same wrk script
# (bench/versus.lua): every request is
#
#   POST /mcp  Authorization: Bearer <HS256 JWT>  Mcp-Session-Id: <the client's session>
#   {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}
#
# answered as an SSE stream with the document (checked on every response):
# token verified, session checked against the caller, tenant set, one row
# read by primary key under RLS, one audit row written, committed.  Besides
# them, pgbench runs the bare SQL transaction (BEGIN; set_config; the row
# read; the audit INSERT; COMMIT -- no HTTP, no JWT, no MCP) as the ceiling.
#
# At each concurrency (wrk -t N -c N: N clients, one connection each) the three
# run in alternating short rounds (the order rotates every round); it prints
# median requests per second, median p50/p99 latency, and the ratios
# mtmcp/peer (throughput), mtmcp p99 / peer p99 and mtmcp / bare SQL.
#
# Settings (environment):
#   BENCH_CONNS    concurrencies ("8 32")        BENCH_ROUNDS   rounds (3)
#   BENCH_SECONDS  seconds per run (8)           BENCH_POOL     database connections of both
#                                                               servers (the largest concurrency)
#   BENCH_CLIENTS  "distinct" (default): every connection is its own client, with
#                  its own token (subject bench-i) and session; "shared": all
#                  connections share one token and one session
#   BENCH_ONLY     run only some of "mtmcp peer sql" (default all three)
#   BENCH_SHIM_ARGS  extra mtmcp-http arguments
#   BENCH_SETTINGS "name=value ..." set on the bench database (ALTER DATABASE),
#                  e.g. mtmcp.injection_detection=off
#   MTMCP_PGBIN, MTMCP_SCRATCH, MTMCP_PGPORT   the cluster (scripts/cluster.sh;
#                  default: the repository's .scratch, port 55432)
#   BENCH_SHIM_PORT (18080), BENCH_PEER_PORT (18081)   loopback HTTP ports
#
# Pool: by default both servers get as many database connections as the
# largest concurrency, so no call waits for a connection, as in pgbench (with
# durable commits a smaller pool also means fewer commits sharing a WAL flush:
# on 2 cores mtmcp-http at 32 connections did ~1.4x better with pool 16 or
# 32 than with 8).  The shim runs with --pool BENCH_POOL, --key-max-running BENCH_POOL (one
# token may use the whole pool: in "shared" mode every call carries the same
# token) and --key-max-inflight N + pool (no 429 from the per-token queue
# share).  The cluster keeps PostgreSQL's durable defaults (fsync,
# synchronous_commit on) for all three.  Needs node/npm (the peer's packages
# come from bench/peer/package-lock.json through npm ci) and wrk (installed
# with apt-get when missing).  Stops what it started; leaves the cluster
# running, like the other benchmarks.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

CONNS=${BENCH_CONNS:-8 32}
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-8}
maxc=0
for n in $CONNS; do [ "$n" -gt "$maxc" ] && maxc=$n; done
POOL=${BENCH_POOL:-$maxc}
MODE=${BENCH_CLIENTS:-distinct}
ONLY=${BENCH_ONLY:-mtmcp peer sql}
SHIM_PORT=${BENCH_SHIM_PORT:-18080}
PEER_PORT=${BENCH_PEER_PORT:-18081}
DB=mtmcp_bench_versus
case $MODE in distinct|shared) ;; *) echo "bench: BENCH_CLIENTS is distinct or shared" >&2; exit 2 ;; esac

die() { echo "bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Tools: wrk (Debian package), the peer's npm packages (pinned)
# ---------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
	echo "bench: installing wrk"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null ||
		{ $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; } ||
		die "could not install wrk"
fi
command -v node >/dev/null && command -v npm >/dev/null || die "needs node and npm (scripts/deps.sh)"
stamp=bench/peer/node_modules/.versus-lock.sha256
want=$(sha256sum bench/peer/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "bench: npm ci (bench/peer)"
	(cd bench/peer && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
	echo "$want" >"$stamp"
fi

make -s shim

# ---------------------------------------------------------------------------
# Cluster, database, servers
# ---------------------------------------------------------------------------
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
work=$(mktemp -d /tmp/mtmcp-bench-versus.XXXXXX)
shim_pid= peer_pid=
cleanup() {
	local p
	for p in $shim_pid $peer_pid; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $shim_pid $peer_pid; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

secret=$(openssl rand -hex 32)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$secret" -d "$DB" -f demo/demo.sql >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f bench/peer/peer.sql
# the peer limits nothing: the tenant may have as many calls in flight as the
# pool runs (the default mtmcp.max_in_flight, 4, answers 429s at 32 connections)
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "UPDATE mtmcp.tenants SET settings = settings || jsonb_build_object('max_in_flight', $POOL) WHERE tenant_id = 'acme'"
# BENCH_SETTINGS: "name=value ..." for the database, e.g. mtmcp.injection_detection=off
for kv in ${BENCH_SETTINGS:-}; do
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "ALTER DATABASE $DB SET ${kv%%=*} = '${kv#*=}'"
done

for port in $SHIM_PORT $PEER_PORT; do
	! curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null || die "127.0.0.1:$port is in use already"
done
build/mtmcp-http --db "host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim" --listen "127.0.0.1:$SHIM_PORT" \
	--pool "$POOL" --key-max-running "$POOL" --key-max-inflight $((maxc + POOL)) ${BENCH_SHIM_ARGS:-} >"$work/shim.log" 2>&1 &
shim_pid=$!
(cd bench/peer && PGDATABASE=$DB PGUSER=peer_app PEER_SECRET_HEX=$secret PEER_POOL=$POOL \
	PEER_LISTEN=127.0.0.1:$PEER_PORT exec node server.mjs) >"$work/peer.log" 2>&1 &
peer_pid=$!
for port in $SHIM_PORT $PEER_PORT; do
	for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 ||
		{ cat "$work/shim.log" "$work/peer.log" >&2; die "nothing answers on 127.0.0.1:$port"; }
done

# ---------------------------------------------------------------------------
# Clients: a token and a session on each server; every one must work
# ---------------------------------------------------------------------------
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench-versus","version":"1"}}}'
initialized='{"jsonrpc":"2.0","method":"notifications/initialized"}'
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_document","arguments":{"doc_id":1}}}'
H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
open_session() {	# url token -> session id
	local sid
	sid=$(curl -sS -D - -o /dev/null "$1" -H "Authorization: Bearer $2" "${H[@]}" -d "$init" |
		tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	[ -n "$sid" ] || die "could not open a session on $1"
	curl -fsS -o /dev/null "$1" -H "Authorization: Bearer $2" -H "Mcp-Session-Id: $sid" \
		-H 'MCP-Protocol-Version: 2025-11-25' "${H[@]}" -d "$initialized" || die "notifications/initialized refused by $1"
	echo "$sid"
}
nclients=$([ "$MODE" = distinct ] && echo "$maxc" || echo 1)
: >"$work/mtmcp.clients"
: >"$work/peer.clients"
for i in $(seq "$nclients"); do
	tok=$(MTMCP_SECRET_HEX=$secret scripts/mint-token.sh -t acme -s "bench-$i" -l 3600)
	for side in mtmcp peer; do
		port=$([ $side = mtmcp ] && echo "$SHIM_PORT" || echo "$PEER_PORT")
		url=http://127.0.0.1:$port/mcp
		sid=$(open_session "$url" "$tok")
		echo "$tok $sid" >>"$work/$side.clients"
		if [ "$i" = 1 ]; then
			out=$(curl -sS "$url" -H "Authorization: Bearer $tok" -H "Mcp-Session-Id: $sid" \
				-H 'MCP-Protocol-Version: 2025-11-25' "${H[@]}" -d "$call")
			grep -q '^event: message' <<<"$out" && grep -q 'Anvil launch plan' <<<"$out" && grep -q '"result"' <<<"$out" ||
				die "$side did not answer tools/call get_document with the document: $out"
		fi
	done
done
# the bare SQL transaction, as the peer's role: it must read the row under RLS
cat >"$work/bare.sql" <<'SQL'
BEGIN;
SELECT set_config('app.tenant', :tenant, true);
SELECT doc_id, title, body FROM peer.documents WHERE doc_id = 1;
INSERT INTO peer.audit (tenant_id, subject, session_id, method, tool, arguments, outcome, duration_us)
	VALUES (:tenant, 'bench', NULL, 'tools/call', 'get_document', '{"doc_id": 1}', 'ok', 0);
COMMIT;
SQL
got=$(psql -X -At -U peer_app -d "$DB" -c "BEGIN" -c "SELECT set_config('app.tenant', 'acme', true)" \
	-c "SELECT title FROM peer.documents WHERE doc_id = 1" -c "ROLLBACK" | sed -n 3p)
[ "$got" = "Anvil launch plan" ] || die "the bare SQL transaction does not read the document under RLS: '$got'"

# ---------------------------------------------------------------------------
# Rounds
# ---------------------------------------------------------------------------
to_ms() {	# wrk's "1.23ms" / "456.00us" / "1.02s" -> milliseconds
	awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); x = v + 0;
		if (u == "us") x /= 1000; else if (u == "s") x *= 1000; else if (u == "m") x *= 60000; printf "%.2f", x }'
}
declare -A RPS P50 P99 CPU
# CPU time (clock ticks: user + system) of the cluster -- the postmaster, its
# processes and those that exited -- and of the given processes (all threads)
pm=$(head -1 "$(psql -X -At -d "$DB" -c 'SHOW data_directory')/postmaster.pid")
hz=$(getconf CLK_TCK)
ticks() {	# pid... -> ticks
	local p t=0
	for p in "$pm" $(ps --ppid "$pm" -o pid=) "$@"; do
		t=$((t + $(awk '{ print $14 + $15 + ($1 == '"$pm"' ? $16 + $17 : 0) }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
cpu_per_call() {	# ticks calls -> microseconds of CPU per call
	awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0) }'
}
run_http() {	# side conns
	local out url port t0 server
	port=$([ "$1" = mtmcp ] && echo "$SHIM_PORT" || echo "$PEER_PORT")
	server=$([ "$1" = mtmcp ] && echo "$shim_pid" || echo "$peer_pid")
	url=http://127.0.0.1:$port/mcp
	t0=$(ticks "$server")
	out=$(VERSUS_CLIENTS=$work/$1.clients wrk -t "$2" -c "$2" -d "${SECS}s" --latency -s bench/versus.lua "$url" 2>&1) ||
		{ echo "$out" >&2; die "wrk failed against $1"; }
	CPU[$1-$2]+="$(cpu_per_call $(($(ticks "$server") - t0)) "$(awk '/ requests in / { print $1 }' <<<"$out")") "
	grep -q '^BAD 0$' <<<"$out" || { echo "$out" >&2; die "$1 answered something else than the document"; }
	! grep -q 'Non-2xx\|Socket errors' <<<"$out" || { echo "$out" >&2; die "$1: errors during the run"; }
	RPS[$1-$2]+="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") "
	P50[$1-$2]+="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")") "
	P99[$1-$2]+="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")") "
}
run_sql() {	# conns
	local out t0 c0
	rm -f "$work"/pgb.*
	t0=$(ticks)
	c0=$(awk '{ print $16 + $17 }' /proc/$$/stat)	# pgbench's CPU: ours once it exited
	out=$(cd "$work" && pgbench -n -M prepared -U peer_app -c "$1" -j "$1" -T "$SECS" -l --log-prefix=pgb \
		-D tenant=acme -f bare.sql "$DB" 2>&1) || { echo "$out" >&2; die "pgbench failed"; }
	CPU[sql-$1]+="$(cpu_per_call $(($(ticks) - t0 + $(awk '{ print $16 + $17 }' /proc/$$/stat) - c0)) \
		"$(awk '/^number of transactions actually processed:/ { print $NF }' <<<"$out")") "
	! grep -q 'failed transactions: [1-9]' <<<"$out" || { echo "$out" >&2; die "pgbench: failed transactions"; }
	RPS[sql-$1]+="$(awk '/^tps = / { print $3; exit }' <<<"$out") "
	# per-transaction log: column 3 is the latency in microseconds
	read -r p50 p99 < <(cat "$work"/pgb.* | awk '{ print $3 }' | sort -n |
		awk '{ a[NR] = $1 } END { printf "%.2f %.2f\n", a[int(NR * 0.50) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000 }')
	P50[sql-$1]+="$p50 "
	P99[sql-$1]+="$p99 "
}
run() {	# what conns
	case $1 in mtmcp|peer) run_http "$1" "$2" ;; sql) run_sql "$2" ;; esac
}

read -r -a what <<<"$ONLY"
nw=${#what[@]}
echo "bench: $ROUNDS rounds x ${SECS}s of ${what[*]} at ${CONNS// /, } connections; pool $POOL; $MODE clients" \
	"(about $(( (ROUNDS * nw * SECS + nw * 2) * $(wc -w <<<"$CONNS") / 60 + 1 )) min)"
# warm up (the peer's JIT, both servers' connections), not counted
for w in "${what[@]}"; do
	[ "$w" = sql ] && continue
	VERSUS_CLIENTS=$work/$w.clients wrk -t "$maxc" -c "$maxc" -d 2s -s bench/versus.lua \
		"http://127.0.0.1:$([ "$w" = mtmcp ] && echo "$SHIM_PORT" || echo "$PEER_PORT")/mcp" >/dev/null
done
for n in $CONNS; do
	for ((r = 0; r < ROUNDS; r++)); do
		line="  $n conns, round $((r + 1)):"
		for ((j = 0; j < nw; j++)); do
			w=${what[$(((r + j) % nw))]}
			run "$w" "$n"
			line+=$(printf ' %s=%.0f' "$w" "$(awk '{ print $NF }' <<<"${RPS[$w-$n]}")")
		done
		echo "$line"
	done
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A M50 M99 MRPS MCPU
echo
echo "mtmcp-http vs the peer: $(nproc) CPUs, PostgreSQL $(psql -X -At -d "$DB" -c 'SHOW server_version'), synchronous_commit $(psql -X -At -d "$DB" -c 'SHOW synchronous_commit'), pool $POOL, $MODE clients"
echo "  mtmcp  mtmcp-http --pool $POOL --key-max-running $POOL --key-max-inflight $((maxc + POOL)): tools/call get_document over Streamable HTTP (SSE answer), session, HS256 bearer"
echo "  peer   bench/peer: MCP TypeScript SDK $(node -p "require('./bench/peer/node_modules/@modelcontextprotocol/sdk/package.json').version"), express, pg Pool $POOL, jose; the same request and answer"
echo "  sql    pgbench -M prepared as peer_app: BEGIN; set_config('app.tenant'); SELECT the row; INSERT audit; COMMIT"
printf '  %-6s %6s %10s %9s %9s %10s   %s\n' "" conns "median rps" "p50 ms" "p99 ms" "CPU us" "rps per round"
for n in $CONNS; do
	for w in "${what[@]}"; do
		MRPS[$w-$n]=$(median <<<"${RPS[$w-$n]}")
		M50[$w-$n]=$(median <<<"${P50[$w-$n]}")
		M99[$w-$n]=$(median <<<"${P99[$w-$n]}")
		MCPU[$w-$n]=$(median <<<"${CPU[$w-$n]}")
		printf '  %-6s %6s %10.0f %9.2f %9.2f %10.0f   %s\n' "$w" "$n" "${MRPS[$w-$n]}" "${M50[$w-$n]}" "${M99[$w-$n]}" \
			"${MCPU[$w-$n]}" "$(printf '%.0f ' ${RPS[$w-$n]})"
	done
done
echo "  (CPU us: CPU time per call of the server side -- the cluster and mtmcp-http, the peer's node"
echo "   process, or pgbench -- not of wrk; median over rounds.  Less sensitive to other load on the"
echo "   machine than requests per second: the CPU ratios below say what the same cores would give.)"
echo
verdict() { awk -v x="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? x >= t : x <= t;
	printf "%5.2f  (target %s %.2f: %s)", x, op, t, ok ? "met" : "NOT met" }'; }
for n in $CONNS; do
	if [ -n "${MRPS[mtmcp-$n]:-}" ] && [ -n "${MRPS[peer-$n]:-}" ]; then
		echo "  $n conns: throughput mtmcp/peer   = $(verdict "$(awk -v a="${MRPS[mtmcp-$n]}" -v b="${MRPS[peer-$n]}" 'BEGIN { print a / b }')" 5 '>=')"
		echo "  $n conns: p99 mtmcp/peer          = $(verdict "$(awk -v a="${M99[mtmcp-$n]}" -v b="${M99[peer-$n]}" 'BEGIN { print a / b }')" 1 '<=')"
	fi
	if [ -n "${MRPS[mtmcp-$n]:-}" ] && [ -n "${MRPS[sql-$n]:-}" ]; then
		echo "  $n conns: throughput mtmcp/bare SQL = $(verdict "$(awk -v a="${MRPS[mtmcp-$n]}" -v b="${MRPS[sql-$n]}" 'BEGIN { print a / b }')" 0.4 '>=')"
	fi
	if [ -n "${MCPU[mtmcp-$n]:-}" ] && [ -n "${MCPU[peer-$n]:-}" ]; then
		echo "  $n conns: calls per CPU second mtmcp/peer     = $(awk -v a="${MCPU[mtmcp-$n]}" -v b="${MCPU[peer-$n]}" 'BEGIN { printf "%5.2f", b / a }')"
	fi
	if [ -n "${MCPU[mtmcp-$n]:-}" ] && [ -n "${MCPU[sql-$n]:-}" ]; then
		echo "  $n conns: calls per CPU second mtmcp/bare SQL = $(awk -v a="${MCPU[mtmcp-$n]}" -v b="${MCPU[sql-$n]}" 'BEGIN { printf "%5.2f", b / a }')"
	fi
done
