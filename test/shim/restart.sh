#!/usr/bin/env bash
# test/shim/restart.sh -- the shim survives the database, and clients cannot
# pin its connections.
#
#   1. a pool of ONE database connection keeps serving POSTs while three GET
#      event streams stay open and a client that never reads its answer hangs
#      on (neither holds a database connection beyond its request);
#   2. PostgreSQL stops: /healthz and POST answer 503 (POST with a JSON-RPC
#      -32603 body), the shim keeps running;
#   3. PostgreSQL starts again: the same shim answers 200 without a restart;
#   4. an operator's --reset-query that drops prepared statements (DISCARD
#      ALL) costs a re-prepare, nothing else: every call 200, no error, and
#      the shim does not mistake it for a transaction pooler.
#
# Runs against the cluster of scripts/cluster.sh (MTMCP_SCRATCH/MTMCP_PGPORT
# as set by make test), which it stops and starts again; needs a built shim.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=${SHIM_BIN:-$REPO/build/mtmcp-http}
DB=shim_restart
eval "$("$REPO/scripts/cluster.sh" env)"
export PGHOST PGPORT PGUSER
T=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	"$REPO/scripts/cluster.sh" start >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
nok() { failed=$((failed + 1)); echo "FAIL - $1${2:+ ($2)}"; }

secret=$(openssl rand -hex 32)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -v secret_hex="$secret" -d "$DB" -f "$REPO/demo/demo.sql" >/dev/null
token=$("$REPO/scripts/mint-token.sh" -k "$secret" -t acme -l 600)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port/mcp
"$SHIM" --db "host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim" --listen "127.0.0.1:$port" \
	--pool 1 --queue-timeout 3000 >"$T/shim.log" 2>&1 &
shim=$!
pids+=("$shim")
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

H=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"restart","version":"1"}}}'
sid=$(curl -sS -D - -o /dev/null "$url" "${H[@]}" -d "$init" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
S=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25')
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_documents","arguments":{"query":""}}}'
post() { curl -sS --max-time 10 -o "$T/b" -w '%{http_code}' "$url" "${H[@]}" "${S[@]}" -d "$1" 2>/dev/null; }

# 1. open streams and a client that never reads do not pin the one connection
for i in 1 2 3; do
	curl -sS -N "$url" -H "Authorization: Bearer $token" -H 'Accept: text/event-stream' "${S[@]}" >/dev/null 2>&1 &
	pids+=($!)
done
python3 - "$port" "$token" "$sid" "$call" <<'PY' &
import socket, sys, time
port, token, sid, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
s = socket.create_connection(("127.0.0.1", int(port)))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.sendall(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\nMcp-Session-Id: %s\r\n"
           "MCP-Protocol-Version: 2025-11-25\r\nContent-Type: application/json\r\n"
           "Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n" % (port, token, sid, len(body))).encode() + body)
time.sleep(30)		# never read the answer
PY
pids+=($!)
sleep 1
n=0
for i in $(seq 10); do [ "$(post "$call")" = 200 ] && grep -q '"result"' "$T/b" && n=$((n + 1)); done
[ "$n" = 10 ] && ok "one DB connection serves 10 calls while 3 GET streams and a non-reading client hang on" \
	|| nok "one DB connection serves 10 calls while 3 GET streams and a non-reading client hang on" "$n of 10"

# 2. the database goes away: 503, the shim stays up
"$REPO/scripts/cluster.sh" stop
st=$(post "$call")
[ "$st" = 503 ] && grep -q -- '-32603' "$T/b" && ok "POST while PostgreSQL is down is 503 with a -32603 body" \
	|| nok "POST while PostgreSQL is down is 503 with a -32603 body" "status $st: $(head -c 200 "$T/b")"
st=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$st" = 503 ] && ok "/healthz is 503 while PostgreSQL is down" || nok "/healthz is 503 while PostgreSQL is down" "status $st"
kill -0 "$shim" 2>/dev/null && ok "the shim is still running" || nok "the shim is still running"

# 3. the database is back: the same shim recovers (sessions live in the database)
"$REPO/scripts/cluster.sh" start
st=000
for _ in $(seq 30); do st=$(post "$call"); [ "$st" = 200 ] && break; sleep 0.5; done
[ "$st" = 200 ] && grep -q '"result"' "$T/b" && ok "after PostgreSQL restarts, the same shim and session answer 200" \
	|| nok "after PostgreSQL restarts, the same shim and session answer 200" "status $st: $(head -c 200 "$T/b")"
grep -q "$token" "$T/shim.log" && nok "the log never contains the token" || ok "the log never contains the token"

# 4. a reset query that discards the prepared statements
port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SHIM" --db "host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim" --listen "127.0.0.1:$port2" \
	--pool 1 --reset-query 'DISCARD ALL' >"$T/shim2.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port2/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
url=http://127.0.0.1:$port2/mcp
n=0
for i in $(seq 6); do [ "$(post "$call")" = 200 ] && grep -q '"result"' "$T/b" && n=$((n + 1)); done
[ "$n" = 6 ] && ok "--reset-query 'DISCARD ALL': 6 calls of one session, all 200" \
	|| nok "--reset-query 'DISCARD ALL': 6 calls of one session, all 200" "$n of 6; $(tail -3 "$T/shim2.log")"
grep -qi "pooled\|database error" "$T/shim2.log" && nok "... no error, not taken for a pooler" "$(grep -i "pooled\|database error" "$T/shim2.log" | head -2)" \
	|| ok "... no error, not taken for a pooler"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
