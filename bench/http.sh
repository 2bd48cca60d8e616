#!/usr/bin/env bash
# bench/http.sh -- what does the HTTP shim add on top of the SQL call?
#
# A benchmark, not a test.  In one run, alternating short rounds:
#   shim     wrk against mtmcp-http on 127.0.0.1 (POST /mcp with a session)
#   sql      pgbench running the very call the shim makes,
#            SELECT ... FROM mtmcp.mcp_http(token, message, session, NULL)
# for tools/call of a no-op tool (answered as SSE) and for tools/list
# (answered as JSON), at the same concurrency.  Prints median requests per
# second, the shim's p99 latency, and the ratio shim/sql (target >= 0.6).
#
#   bench/http.sh      BENCH_ROUNDS (3) BENCH_SECONDS (6) BENCH_CLIENTS (2); needs wrk (apt-get install wrk)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECONDS:-6}
CLIENTS=${BENCH_CLIENTS:-2}
DB=mtmcp_bench_http
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }

make -s shim
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
work=$(mktemp -d /tmp/mtmcp-bench-http.XXXXXX)
shim_pid=
cleanup() { [ -n "$shim_pid" ] && kill -TERM "$shim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

secret=$(openssl rand -hex 32)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$secret" -d "$DB" -f demo/demo.sql >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA bench;
CREATE FUNCTION bench.noop(args jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"ok": true}'::jsonb $$;
GRANT USAGE ON SCHEMA bench TO mtmcp_tool;
GRANT EXECUTE ON FUNCTION bench.noop(jsonb) TO mtmcp_tool;
SELECT mtmcp.register_tool('noop', 'Does nothing.', '{"type":"object"}', 'bench.noop(jsonb)');
SQL
token=$(MTMCP_SECRET_HEX=$secret scripts/mint-token.sh -t acme -s bench -l 3600)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/mcp
build/mtmcp-http --db "host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim" --listen "127.0.0.1:$port" \
	--pool "$CLIENTS" >"$work/shim.log" 2>&1 &
shim_pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
sid=$(curl -sS -D - -o /dev/null "$url" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -d "$init" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
[ -n "$sid" ] || { echo "bench: could not open a session" >&2; exit 1; }

call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"noop","arguments":{}}}'
list='{"jsonrpc":"2.0","id":3,"method":"tools/list"}'
# every variant must really succeed
for body in "$call" "$list"; do
	out=$(curl -sS "$url" -H "Authorization: Bearer $token" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body")
	grep -q '"result"' <<<"$out" || { echo "bench: the shim did not answer with a result: $out" >&2; exit 1; }
done

for name in call list; do
	body=$([ $name = call ] && echo "$call" || echo "$list")
	cat >"$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Mcp-Session-Id"] = "$sid"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local bad = 0
response = function(status, headers, b)
	if status ~= 200 or not string.find(b, '"result"', 1, true) then bad = bad + 1 end
end
done = function(summary, latency, requests)
	io.write(string.format("BAD %d\n", bad))
end
LUA
	cat >"$work/$name.sql" <<SQL
SELECT (http_status = 200 AND response ? 'result')::int AS ok FROM mtmcp.mcp_http(:tok, '$body', :sid, NULL) \\gset
\\if :ok = 1
\\else
SELECT 'mcp_http did not answer with a result'::int;
\\endif
SQL
done

declare -A RPS P99
shim() {	# name
	local out
	out=$(wrk -t "$CLIENTS" -c "$CLIENTS" -d "${SECS}s" --latency -s "$work/$1.lua" "$url")
	grep -q '^BAD 0$' <<<"$out" || { echo "bench: the shim answered something else than a result:" >&2; echo "$out" >&2; exit 1; }
	RPS[shim-$1]+="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") "
	P99[shim-$1]+="$(awk '$1 == "99%" { print $2 }' <<<"$out") "
}
sql() {	# name
	local out
	out=$(pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$work/$1.sql" -D "tok=$token" -D "sid=$sid" "$DB" 2>&1) \
		|| { echo "bench: pgbench failed:" >&2; echo "$out" >&2; exit 1; }
	RPS[sql-$1]+="$(awk '/^tps = / { print $3; exit }' <<<"$out") "
	P99[sql-$1]+="$(awk '/^latency average/ { print $4 "ms(avg)"; exit }' <<<"$out") "
}
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then shim call; sql call; sql list; shim list; else sql call; shim call; shim list; sql list; fi
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
printf '%-11s %12s   %-28s %s\n' variant "median rps" "latency (shim p99 / sql avg)" rounds
for v in shim-call sql-call shim-list sql-list; do
	printf '%-11s %12.0f   %-28s %s\n' "$v" "$(median <<<"${RPS[$v]}")" "${P99[$v]}" "${RPS[$v]}"
done
echo
for n in call list; do
	s=$(median <<<"${RPS[shim-$n]}"); q=$(median <<<"${RPS[sql-$n]}")
	echo "ratio shim/sql ($n) = $(awk -v a="$s" -v b="$q" 'BEGIN { printf "%.2f", a / b }')   (target >= 0.60, $CLIENTS clients)"
done
