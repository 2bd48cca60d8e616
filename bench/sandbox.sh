#!/usr/bin/env bash
# bench/sandbox.sh -- what does the sandbox (src/sandbox.c) cost a tool call?
#
# A benchmark, not a test.  It builds this checkout twice into private copies
# of the PostgreSQL installation (scripts/private-pg.sh): as it is, and with
# the sandbox's hooks compiled out (-DMTMCP_NO_SANDBOX, a yardstick build that
# is never shipped).  It starts one scratch cluster for each, loads the demo
# into both, and runs the same pgbench workload against them in alternating
# short rounds: tools/call through mcp_dispatch of a handler that reads a
# tenant row by primary key (get_document) and of one that scans the tenant's
# rows (search_documents).  It prints the median TPS of each and the ratio
# sandbox/none (the issue's target: at least 0.95).
#
# Settings: BENCH_ROUNDS (6), BENCH_SECONDS (5), BENCH_CLIENTS (2).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-6}
SECS=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-2}
WORK=$(mktemp -d /tmp/mtmcp-bench-sandbox.XXXXXX)
chmod 755 "$WORK"
PORTS=([1]=55497 [0]=55498)
NAMES=([1]="with the sandbox" [0]="hooks compiled out")

cleanup() {
	for v in 1 0; do
		MTMCP_PGBIN=$WORK/pg-$v/usr/lib/postgresql/15/bin MTMCP_SCRATCH=$WORK/c-$v MTMCP_PGPORT=${PORTS[$v]} \
			"$REPO/scripts/cluster.sh" stop 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

SECRET=$(openssl rand -hex 32)
TOKEN=$(MTMCP_SECRET_HEX=$SECRET "$REPO/scripts/mint-token.sh" -t acme -s bench -l 3600)
for v in 1 0; do
	echo "bench: building and starting: ${NAMES[$v]}"
	mkdir -p "$WORK/src-$v"
	tar -C "$REPO" --exclude=.git --exclude=.scratch --exclude=node_modules --exclude='*.o' --exclude='*.bc' \
		--exclude='*.so' -cf - . | tar -C "$WORK/src-$v" -xf -
	flags=""
	[ "$v" = 0 ] && flags="PG_CFLAGS=-DMTMCP_NO_SANDBOX"
	MTMCP_BUILD_FLAGS=$flags "$WORK/src-$v/scripts/private-pg.sh" "$WORK/pg-$v" >/dev/null
	export MTMCP_PGBIN=$WORK/pg-$v/usr/lib/postgresql/15/bin MTMCP_SCRATCH=$WORK/c-$v MTMCP_PGPORT=${PORTS[$v]}
	"$REPO/scripts/cluster.sh" fresh
	eval "$("$REPO/scripts/cluster.sh" env)"
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE bench" >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$SECRET" -d bench -f "$REPO/demo/demo.sql" >/dev/null
	got=$(psql -X -At -d bench -c "SELECT mtmcp.mcp_dispatch('$TOKEN', '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"get_document\",\"arguments\":{\"doc_id\":1}}}') -> 'result' ->> 'isError'")
	[ "$got" = false ] || { echo "bench: get_document does not succeed on the ${NAMES[$v]} build" >&2; exit 1; }
	unset MTMCP_PGBIN MTMCP_SCRATCH MTMCP_PGPORT
done

for tool in get_document search_documents; do
	args='{"doc_id": 1}'
	[ "$tool" = search_documents ] && args='{"query": "a"}'
	cat >"$WORK/$tool.sql" <<SQL
SELECT coalesce(r -> 'result' ->> 'isError' = 'false', false)::int AS ok
  FROM mtmcp.mcp_dispatch(:tok, '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "$tool", "arguments": $args}}') r \gset
\if :ok = 1
\else
SELECT 'tool call failed'::int;
\endif
SQL
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "bench: $ROUNDS rounds x 2 builds x 2 tools x ${SECS}s, pgbench -c $CLIENTS -M prepared"
for tool in get_document search_documents; do
	declare -A RUNS=([1]="" [0]="")
	for ((r = 0; r < ROUNDS; r++)); do
		for v in $([ $((r % 2)) = 0 ] && echo "1 0" || echo "0 1"); do
			out=$(PGHOST=$WORK/c-$v/run PGPORT=${PORTS[$v]} PGUSER=postgres \
				pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$WORK/$tool.sql" -D "tok=$TOKEN" bench 2>&1) ||
				{ echo "$out" >&2; exit 1; }
			if grep -q 'failed transactions: [1-9]' <<<"$out"; then echo "$out" >&2; exit 1; fi
			RUNS[$v]+="$(awk '/^tps = / { print $3; exit }' <<<"$out") "
		done
	done
	on=$(median <<<"${RUNS[1]}")
	off=$(median <<<"${RUNS[0]}")
	printf '  %-17s sandbox %8.0f TPS   none %8.0f TPS   sandbox/none = %.3f\n' "$tool" "$on" "$off" \
		"$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')"
	unset RUNS
done
