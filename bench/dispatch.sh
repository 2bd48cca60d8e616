#!/usr/bin/env bash
# bench/dispatch.sh -- what does mcp_dispatch cost on top of the tool it runs?
#
# A benchmark, not a test: it prints numbers and ratios measured side by side
# in one run, and fails only when something does not work at all.  Run it from
# anywhere (as root or as the cluster owner):
#
#   bench/dispatch.sh
#
# It starts the scratch cluster if needed (scripts/cluster.sh start), recreates
# the database mtmcp_bench from demo/demo.sql plus bench/setup.sql (a tool
# `noop`, RS256 and ES256 issuers with key pairs made now by bench/keys.mjs),
# mints tokens, checks that every variant really gets {"ok": true}, then runs
# pgbench in alternating short rounds and reports the median TPS per variant:
#
#   A  SELECT bench.noop('{}')                   the handler alone, as superuser
#   B  mcp_dispatch tools/call noop, HS256      one token: verified-token cache hits
#   C  same, RS256 token                        (cache hits)
#   D  same, ES256 token                        (cache hits)
#   T  same as B, the token fetched from a table like E/F do (control for E/F)
#   E  same, a different HS256 token every call (full verification)
#   F  same, a different RS256 token every call (full verification)
#   G  same, a different ES256 token every call (full verification; not run by default)
#   P  mcp_dispatch ping, HS256 cached token    authentication and envelope only (not by default)
#   H  the handler + a hand-written audit INSERT, one transaction (issue 3's yardstick for B)
#   N  same as B with mtmcp.injection_detection = off (B/N: what the prompt-injection scan costs)
#   Y  a typical call: tools/call document, a short query in, ~1 KB of a document out (HS256, cached)
#   Z  same as Y with mtmcp.injection_detection = off (Y/Z: the scan's cost on real text)
#
# Every dispatched transaction checks its own response and aborts the run unless
# it is a successful result, so refusals are never benchmarked by mistake.
#
# Settings (environment): BENCH_VARIANTS (default "A H B C D T E F", about 5 minutes),
# BENCH_ROUNDS (5), BENCH_SECONDS (6 per round and variant: many short rounds beat
# a few long ones on a noisy machine), BENCH_CLIENTS (2), BENCH_NTOK (2000 tokens
# per algorithm for E/F/G).  The database is left in place for poking at; the
# next run recreates it.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

VARIANTS=${BENCH_VARIANTS:-A H B C D T E F}
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-6}
CLIENTS=${BENCH_CLIENTS:-2}
NTOK=${BENCH_NTOK:-2000}
DB=mtmcp_bench

TENANT=acme
HS_ISSUER=https://idp.demo.mtmcp.local	# the demo's issuer (demo/demo.sql)
HS_AUDIENCE=mtmcp-demo
RS_ISSUER=https://idp.bench.rs256.local
ES_ISSUER=https://idp.bench.es256.local
ASYM_AUDIENCE=mtmcp-bench

declare -A TITLE=(
	[A]="direct handler call (no dispatch)"
	[B]="dispatch, HS256, cached token"
	[C]="dispatch, RS256, cached token"
	[D]="dispatch, ES256, cached token"
	[T]="dispatch, HS256, cached, token from table"
	[E]="dispatch, HS256, new token each call"
	[F]="dispatch, RS256, new token each call"
	[G]="dispatch, ES256, new token each call"
	[P]="dispatch ping (no tool), HS256, cached"
	[H]="handler + hand-written audit INSERT"
	[N]="dispatch, HS256, cached, injection scan off"
	[Y]="typical call (1 KB result), HS256, cached"
	[Z]="typical call, injection scan off"
)
for v in $VARIANTS; do
	[ -n "${TITLE[$v]:-}" ] || { echo "bench: unknown variant '$v'" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/mtmcp-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------
# Cluster and database
# ---------------------------------------------------------------------------
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

echo "bench: setting up database $DB (tenant $TENANT, $NTOK tokens per algorithm)"
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"

HS_SECRET_HEX=$(openssl rand -hex 32)
"${PSQL[@]}" -v secret_hex="$HS_SECRET_HEX" -d "$DB" -f demo/demo.sql

BENCH_TENANT=$TENANT BENCH_HS_SECRET_HEX=$HS_SECRET_HEX BENCH_HS_ISSUER=$HS_ISSUER \
	BENCH_HS_AUDIENCE=$HS_AUDIENCE BENCH_RS_ISSUER=$RS_ISSUER BENCH_ES_ISSUER=$ES_ISSUER \
	BENCH_ASYM_AUDIENCE=$ASYM_AUDIENCE BENCH_NTOK=$NTOK BENCH_TTL=3600 \
	node bench/keys.mjs "$WORK"

"${PSQL[@]}" -d "$DB" -f bench/setup.sql \
	-v rsa_pem="$(cat "$WORK/rsa.pub.pem")" -v ec_pem="$(cat "$WORK/ec.pub.pem")" \
	-v rs_issuer="$RS_ISSUER" -v es_issuer="$ES_ISSUER" -v asym_audience="$ASYM_AUDIENCE"
"${PSQL[@]}" -d "$DB" -c "\\copy bench.tokens FROM '$WORK/tokens.tsv'" -c "ANALYZE bench.tokens"

# The cached-token variants: HS256 from scripts/mint-token.sh, the others from keys.mjs.
TOK_HS=$(MTMCP_SECRET_HEX=$HS_SECRET_HEX scripts/mint-token.sh -t "$TENANT" -s bench-cached \
	-i "$HS_ISSUER" -a "$HS_AUDIENCE" -l 3600)
TOK_RS=$(cat "$WORK/rs256.tok")
TOK_ES=$(cat "$WORK/es256.tok")

# ---------------------------------------------------------------------------
# Every variant must really run the tool: a benchmark of refusals is worthless.
# ---------------------------------------------------------------------------
CALL='{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "noop", "arguments": {}}}'
ok_sql="r -> 'result' ->> 'isError' = 'false' AND r -> 'result' -> 'content' -> 0 ->> 'text' = '{\"ok\": true}'"

check() {	# $1: what, $2: SQL printing t when fine
	local got
	got=$("${PSQL[@]}" -At -d "$DB" -c "$2")
	if [ "$got" != t ]; then
		echo "bench: sanity check failed: $1" >&2
		"${PSQL[@]}" -d "$DB" -c "SELECT jsonb_pretty(mtmcp.mcp_dispatch('$TOK_HS', '$CALL'))" >&2 || true
		exit 1
	fi
}
check "direct call" "SELECT bench.noop('{}') = '{\"ok\": true}'"
for t in "HS256:$TOK_HS" "RS256:$TOK_RS" "ES256:$TOK_ES"; do
	check "${t%%:*} cached token" "SELECT $ok_sql FROM mtmcp.mcp_dispatch('${t#*:}', '$CALL') r"
done
check "typical call, and its result raises no finding" \
	"SELECT r -> 'result' ->> 'isError' = 'false' AND (SELECT a.findings IS NULL FROM mtmcp.audit_log a ORDER BY a.ts DESC LIMIT 1)
	   FROM mtmcp.mcp_dispatch('$TOK_HS', '{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/call\", \"params\": {\"name\": \"document\", \"arguments\": {\"query\": \"quarterly report for the east region\"}}}') r"
check "pre-minted tokens (all $((3 * NTOK)))" \
	"SELECT bool_and($ok_sql) AND count(*) = 3 * $NTOK FROM bench.tokens t, mtmcp.mcp_dispatch(t.token, '$CALL') r"

# How often does the E/F access pattern (one client's walk) really verify?
# Uses the extension's per-backend counters when it has them.
cache_note=""
if [ "$("${PSQL[@]}" -At -d "$DB" -c "SELECT to_regprocedure('mtmcp._identity_cache_stats()') IS NOT NULL")" = t ]; then
	walk=$((2 * NTOK))
	cache_note=$("${PSQL[@]}" -At -d "$DB" -F ' ' -c "SELECT count(*) FROM generate_series(1, $walk) g,
			LATERAL mtmcp.mcp_dispatch((SELECT t.token FROM bench.tokens t WHERE t.alg = 'HS256' AND t.n = 1 + g % $NTOK), '$CALL')" \
		-c "SELECT verifications, cache_hits FROM mtmcp._identity_cache_stats()" | tail -1)
	read -r nver nhit <<<"$cache_note"
	cache_note="E/F access pattern, one backend, $walk calls: $nver full verifications, $nhit verified-token cache hits"
fi

# ---------------------------------------------------------------------------
# pgbench rounds
# ---------------------------------------------------------------------------
pgb() {	# $1: variant; prints its TPS
	local args=(-n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS")
	case $1 in
		A) args+=(-f bench/direct.sql) ;;
		B) args+=(-f bench/dispatch.sql -D "tok=$TOK_HS") ;;
		C) args+=(-f bench/dispatch.sql -D "tok=$TOK_RS") ;;
		D) args+=(-f bench/dispatch.sql -D "tok=$TOK_ES") ;;
		T) args+=(-f bench/dispatch_fresh.sql -D alg=HS256 -D ntok=1 -D i=0) ;;
		E) args+=(-f bench/dispatch_fresh.sql -D alg=HS256 -D "ntok=$NTOK" -D i=0) ;;
		F) args+=(-f bench/dispatch_fresh.sql -D alg=RS256 -D "ntok=$NTOK" -D i=0) ;;
		G) args+=(-f bench/dispatch_fresh.sql -D alg=ES256 -D "ntok=$NTOK" -D i=0) ;;
		P) args+=(-f bench/ping.sql -D "tok=$TOK_HS") ;;
		H) args+=(-f bench/handler_audit.sql) ;;
		N) args+=(-f bench/dispatch.sql -D "tok=$TOK_HS") ;;
		Y | Z) args+=(-f bench/dispatch_typical.sql -D "tok=$TOK_HS") ;;
	esac
	local opts=${PGOPTIONS:-}
	case $1 in N | Z) opts+=" -c mtmcp.injection_detection=off" ;; esac
	local out
	# (pgbench takes the database name last: its -d means --debug)
	if ! out=$(PGOPTIONS="$opts" pgbench "${args[@]}" "$DB" 2>&1); then
		echo "bench: pgbench failed for variant $1:" >&2
		echo "$out" | tail -20 >&2
		if grep -q 'administrator command' <<<"$out"; then
			echo "bench: the cluster was shut down during the run (make test or make stop elsewhere?); run again" >&2
		fi
		exit 1
	fi
	if grep -q 'failed transactions: [1-9]' <<<"$out"; then
		echo "bench: variant $1 had failed transactions:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk '/^tps = / { print $3; exit }' <<<"$out"
}

read -r -a vlist <<<"$VARIANTS"
nv=${#vlist[@]}
declare -A RUNS
echo "bench: $ROUNDS rounds x $nv variants x ${SECS}s, pgbench -c $CLIENTS -j $CLIENTS -M prepared" \
	"(about $((ROUNDS * nv * SECS / 60 + 1)) min)"
for ((r = 0; r < ROUNDS; r++)); do
	line="  round $((r + 1)):"
	# rotate the order every round so no variant always runs first or last
	for ((j = 0; j < nv; j++)); do
		v=${vlist[$(((r + j) % nv))]}
		tps=$(pgb "$v")
		RUNS[$v]+="$tps "
		line+=$(printf ' %s=%.0f' "$v" "$tps")
	done
	echo "$line"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A MED
for v in "${vlist[@]}"; do MED[$v]=$(median <<<"${RUNS[$v]}"); done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
echo
echo "mcp_dispatch benchmark: $(nproc) CPUs, PostgreSQL $(psql -X -At -d "$DB" -c 'SHOW server_version'), mtmcp $(psql -X -At -d "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'mtmcp'")"
printf '  %-2s %-44s %12s   %s\n' "" "variant" "median TPS" "rounds"
for v in "${vlist[@]}"; do
	printf '  %-2s %-44s %12.0f   %s\n' "$v" "${TITLE[$v]}" "${MED[$v]}" "$(printf '%.0f ' ${RUNS[$v]})"
done
echo

ratio() {	# $1/$2 with a label, when both ran; then the median of the rounds' own $1/$2
	[ -n "${MED[$1]:-}" ] && [ -n "${MED[$2]:-}" ] || return 0
	printf '  %s/%s = %5.2f   %s\n' "$1" "$2" "$(awk -v a="${MED[$1]}" -v b="${MED[$2]}" 'BEGIN { print a / b }')" "$3"
	# both ran in every round, close together: their ratio round by round drifts less
	printf '         (%s/%s round by round: median %.2f of %s)\n' "$1" "$2" \
		"$(paste -d' ' <(tr ' ' '\n' <<<"${RUNS[$1]}" | grep .) <(tr ' ' '\n' <<<"${RUNS[$2]}" | grep .) |
			awk '{ print $1 / $2 }' | median)" \
		"$(paste -d' ' <(tr ' ' '\n' <<<"${RUNS[$1]}" | grep .) <(tr ' ' '\n' <<<"${RUNS[$2]}" | grep .) |
			awk '{ printf "%.2f ", $1 / $2 }')"
}
if [ -n "${MED[B]:-}" ] && [ -n "${MED[A]:-}" ]; then
	verdict=$(awk -v a="${MED[A]}" -v b="${MED[B]}" 'BEGIN { print (b / a >= 0.5) ? "meets the target (>= 0.50)" : "BELOW the target of 0.50" }')
	ratio B A "dispatch vs the bare handler: $verdict"
fi
if [ -n "${MED[B]:-}" ] && [ -n "${MED[H]:-}" ]; then
	verdict=$(awk -v a="${MED[H]}" -v b="${MED[B]}" 'BEGIN { print (b / a >= 0.7) ? "meets the target (>= 0.70)" : "BELOW the target of 0.70" }')
	ratio B H "audited dispatch vs handler + hand-written audit INSERT: $verdict"
fi
ratio H A "the bare handler + one audit INSERT vs the bare handler: the write every audited call shares"
ratio C B "RS256 vs HS256, both served from the verified-token cache"
ratio D B "ES256 vs HS256, both served from the verified-token cache"
ratio T B "cost of fetching the token from a table (E/F do this too)"
ratio E B "full HS256 verification every call vs the cache"
ratio F B "full RS256 verification every call vs the cache"
ratio G B "full ES256 verification every call vs the cache"
ratio P A "authentication and envelope alone (ping) vs the bare handler"
ratio B P "tools/call noop vs ping, both dispatched"
ratio E T "full HS256 verification vs the cache, same SQL"
ratio F T "full RS256 verification vs the cache, same SQL"
ratio G T "full ES256 verification vs the cache, same SQL"
ratio B N "prompt-injection scan on vs off, tools/call noop (target >= 0.95: at most 5% added)"
ratio Y Z "prompt-injection scan on vs off, typical call with a 1 KB result (target >= 0.95)"
if [ -n "$cache_note" ]; then
	echo
	echo "  $cache_note"
fi
