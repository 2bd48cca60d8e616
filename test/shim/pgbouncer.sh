#!/usr/bin/env bash
# test/shim/pgbouncer.sh -- mtmcp-http behind PgBouncer in transaction mode
# (Debian's pgbouncer package, run as the postgres user on its own port, in
# front of the scripts/cluster.sh cluster; the mock contract test/shim/mock.sql).
#
#   1. 120 calls from 8 parallel clients through a shim pool of 6 over 2
#      server connections: every one answered 200, no 42P05 ("prepared
#      statement already exists") or any other database error in the log;
#   2. live progress notices still stream through the pooler;
#   3. a resource update reaches a GET stream: the shim listens on its own
#      direct connection (--listen-dsn), not through the pooler;
#   4. the cluster saw few server connections: 2 for the pool, 1 listener;
#   5. a shim not told about the pooler (--statements left at "prepared")
#      finds out by itself: its named statements are refused (42P05/26000,
#      before anything ran), it says so in its log, switches to unnamed
#      statements and answers every call 200.
#
# PGB_PORT picks PgBouncer's port (default: any free one), SHIM_PORT the
# shim's (default: any free one).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=${SHIM_BIN:-$REPO/build/mtmcp-http}
case $SHIM in /*) ;; *) SHIM=$REPO/$SHIM ;; esac
DB=shim_pgb_mock
[ -n "${PGHOST:-}" ] || eval "$("$REPO/scripts/cluster.sh" env)"
export PGHOST PGPORT PGUSER
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$PGBOUNCER" ] || { echo "pgbouncer: not installed (scripts/deps.sh installs it)"; exit 2; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PGB_PORT=${PGB_PORT:-$(free_port)}

T=$(mktemp -d /tmp/shim-pgb.XXXXXX)
chmod 755 "$T"
SHIM_PID=
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
cleanup() {
	[ -n "$SHIM_PID" ] && kill -9 "$SHIM_PID" 2>/dev/null
	[ -s "$T/pgbouncer.pid" ] && kill -TERM "$(cat "$T/pgbouncer.pid")" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	sleep 0.2
	rm -rf "$T"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
nok() { failed=$((failed + 1)); echo "FAIL - $1${2:+ ($2)}"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name" "${why:-}"; fi; why=; }

psql -X -Atq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 || createdb "$DB" || exit 2
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$REPO/test/shim/mock.sql" >/dev/null || exit 2
psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()" >/dev/null

# ---------------------------------------------------------------- PgBouncer
# What the pooler needs for mtmcp-http (see README, "Behind PgBouncer"):
# pool_mode = transaction is fine; the shim sends no named prepared
# statements and keeps LISTEN on its own direct connection.
cat >"$T/pgbouncer.ini" <<INI
[databases]
$DB = host=$PGHOST port=$PGPORT dbname=$DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $T/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
server_reset_query =
logfile = $T/pgbouncer.log
pidfile = $T/pgbouncer.pid
INI
echo '"mtmcp_shim_mock" ""' >"$T/userlist.txt"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$T"
as_pg "$PGBOUNCER" -d "$T/pgbouncer.ini" || { echo "pgbouncer did not start"; cat "$T/pgbouncer.log"; exit 1; }
for _ in $(seq 50); do psql -X -Atq "host=127.0.0.1 port=$PGB_PORT dbname=$DB user=mtmcp_shim_mock" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
echo "# PgBouncer (transaction mode, 2 server connections) on port $PGB_PORT"

"$SHIM" --db "host=127.0.0.1 port=$PGB_PORT dbname=$DB user=mtmcp_shim_mock" \
	--listen-dsn "host=$PGHOST port=$PGPORT dbname=$DB user=mtmcp_shim_mock" \
	--listen "127.0.0.1:${SHIM_PORT:-0}" --pool 6 --statements unnamed >"$T/shim.log" 2>&1 &
SHIM_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/shim.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$T/shim.log" | head -1 | cut -d: -f2)
[ -n "$PORT" ] || { echo "pgbouncer: the shim did not start"; cat "$T/shim.log"; exit 1; }
URL=http://127.0.0.1:$PORT/mcp

H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"pgb","version":"1"}}}'
session() { curl -sS -D - -o /dev/null "$URL" "${H[@]}" -H "Authorization: Bearer $1" -d "$INIT" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'; }

# 1. many calls, few server connections
for c in $(seq 8); do
	(
		tok=good
		[ $((c % 2)) = 0 ] && tok=good2
		sid=$(session $tok)
		for i in $(seq 15); do
			st=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$URL" "${H[@]}" -H "Authorization: Bearer $tok" \
				-H "Mcp-Session-Id: $sid" -d "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"i\":$i}}}")
			echo "$st"
		done
	) >"$T/calls$c" &
done
wait $(jobs -p | grep -v "^$SHIM_PID\$")
n200=$(cat "$T"/calls* | grep -c '^200$')
why="$n200 of 120 answered 200: $(cat "$T"/calls* | sort | uniq -c | tr '\n' ' ')"
check "120 calls (and 8 initializes) through PgBouncer in transaction mode: all 200" [ "$n200" = 120 ]
why="$(grep -i 'database error\|42P05' "$T/shim.log" | head -3)"
check "no 42P05 (prepared statement already exists), no database error" eval '! grep -qi "database error\|42P05\|26000\|pooled" "$T/shim.log"'

# 2. live progress through the pooler
SID=$(session good)
A=(-H "Authorization: Bearer good" -H "Mcp-Session-Id: $SID")
curl -sS --max-time 10 -o "$T/slow" "$URL" "${H[@]}" "${A[@]}" \
	-d '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","arguments":{"steps":2,"sleep":0.1},"_meta":{"progressToken":"pt"}}}'
why="$(head -c 300 "$T/slow")"
check "live progress notices stream through the pooler" \
	eval '[ "$(grep -c "^data: .*notifications/progress" "$T/slow")" = 2 ] && ! grep -q FORGED "$T/slow"'

# 3. a resource update reaches the GET stream
curl -sS -N --max-time 15 -o "$T/get" "$URL" -H 'Accept: text/event-stream' "${A[@]}" 2>/dev/null &
for _ in $(seq 50); do grep -q '^: stream open' "$T/get" 2>/dev/null && break; sleep 0.1; done
curl -sS -o /dev/null "$URL" "${H[@]}" "${A[@]}" -d '{"jsonrpc":"2.0","id":6,"method":"resources/subscribe","params":{"uri":"doc://7"}}'
curl -sS -o /dev/null "$URL" "${H[@]}" "${A[@]}" -d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"touch","arguments":{"uri":"doc://7"}}}'
for _ in $(seq 50); do grep -q 'resources/updated' "$T/get" && break; sleep 0.1; done
why="GET stream: $(head -c 200 "$T/get")"
check "a resource update reaches the GET stream (LISTEN on the direct --listen-dsn connection)" \
	grep -q 'notifications/resources/updated.*doc://7' "$T/get"

# 4. server connections
n=$(psql -X -Atq -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()")
why="$n backends"
check "the cluster served it all with at most 3 connections (2 pooled + the listener)" [ "$n" -le 3 ]

kill -TERM "$SHIM_PID"
for _ in $(seq 100); do kill -0 "$SHIM_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SHIM_PID"
rc=$?
SHIM_PID=
why="exit $rc"
check "SIGTERM: clean exit 0" [ "$rc" = 0 ]

# 5. a shim that was not told: prepared statements (the default) through the pooler
"$SHIM" --db "host=127.0.0.1 port=$PGB_PORT dbname=$DB user=mtmcp_shim_mock" \
	--listen "127.0.0.1:0" --pool 6 >"$T/shim2.log" 2>&1 &
SHIM_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/shim2.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$T/shim2.log" | head -1 | cut -d: -f2)
URL=http://127.0.0.1:$PORT/mcp
for c in $(seq 6); do
	(
		sid=$(session good)
		for i in $(seq 10); do
			curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' "$URL" "${H[@]}" -H "Authorization: Bearer good" \
				-H "Mcp-Session-Id: $sid" -d "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"i\":$i}}}"
		done
	) >"$T/auto$c" &
done
wait $(jobs -p | grep -v "^$SHIM_PID\$")
n200=$(cat "$T"/auto* | grep -c '^200$')
why="$n200 of 60 answered 200: $(cat "$T"/auto* | sort | uniq -c | tr '\n' ' '); $(grep -i 'error' "$T/shim2.log" | head -3)"
check "prepared statements (the default) through the pooler: 60 calls, all 200" [ "$n200" = 60 ]
why="$(tail -5 "$T/shim2.log")"
check "... the shim noticed the pooler, said so once and switched to unnamed statements" \
	eval '[ "$(grep -c "connection is pooled.*--statements unnamed" "$T/shim2.log")" = 1 ] && ! grep -qi "database error" "$T/shim2.log"'
kill -TERM "$SHIM_PID"
wait "$SHIM_PID"
SHIM_PID=
cat "$T/shim2.log" >>"$T/shim.log"

if [ "$failed" -gt 0 ]; then
	echo "# shim log (last 30 lines):"
	tail -30 "$T/shim.log" | sed 's/^/#   /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
