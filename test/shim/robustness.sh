#!/usr/bin/env bash
# test/shim/robustness.sh -- mtmcp-http under hostile or careless clients
# (bash, curl, python3; the mock contract test/shim/mock.sql, no extension).
#
#   1. a 3 MB body is answered 413 -- Content-Length without Expect, chunked,
#      and with Expect: 100-continue -- never a reset connection;
#   2. a body that is not JSON leaves a trace: a log line and a counter;
#   3. a client that disconnects while its call runs (before any event, and
#      while its SSE stream is open) gets its query cancelled: no mcp_http
#      query is left running in pg_stat_activity, and the connection serves
#      the next call;
#   4. the queue is fair between bearer tokens: a token over its share gets
#      429 with Retry-After at once, another token is served meanwhile, and
#      with one connection a token's queued calls and another token's call
#      take turns (round robin, not first come first served);
#   5. 700 idle half-open connections from one address (127.0.0.2) do not
#      keep a client at another address (127.0.0.1) from being served
#      promptly, and the server closes them once --request-timeout passes.
#
# Needs a running cluster (PG* as from scripts/cluster.sh env; the superuser
# reads pg_stat_activity) and a built shim.  SHIM_PORT picks the HTTP port
# (default: any free one), SHIM_PORT2 a second shim's (pool of one).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=${SHIM_BIN:-$REPO/build/mtmcp-http}
case $SHIM in /*) ;; *) SHIM=$REPO/$SHIM ;; esac
DB=shim_robust_mock
[ -n "${PGHOST:-}" ] || eval "$("$REPO/scripts/cluster.sh" env)"
export PGHOST PGPORT PGUSER
T=$(mktemp -d /tmp/shim-robust.XXXXXX)
SHIM_PID=
cleanup() {
	[ -n "$SHIM_PID" ] && kill -9 "$SHIM_PID" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
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

"$SHIM" --db "dbname=$DB user=mtmcp_shim_mock" --listen "127.0.0.1:${SHIM_PORT:-0}" \
	--pool 2 --key-max-inflight 2 --key-max-running 1 --request-timeout 2 --max-connections-per-ip 32 \
	>"$T/shim.log" 2>&1 &
SHIM_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/shim.log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$T/shim.log" | head -1 | cut -d: -f2)
[ -n "$PORT" ] || { echo "robustness: the shim did not start"; cat "$T/shim.log"; exit 1; }
URL=http://127.0.0.1:$PORT/mcp
echo "# mtmcp-http on port $PORT, database $DB"

H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"robust","version":"1"}}}'
session() { curl -sS -D - -o /dev/null "$URL" "${H[@]}" -H "Authorization: Bearer $1" -d "$INIT" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'; }
SID=$(session good)
SID2=$(session good2)
[ -n "$SID" ] && [ -n "$SID2" ] || { echo "robustness: no session"; cat "$T/shim.log"; exit 1; }
A=(-H "Authorization: Bearer good" -H "Mcp-Session-Id: $SID")
A2=(-H "Authorization: Bearer good2" -H "Mcp-Session-Id: $SID2")
call() { echo "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":$2}"; }
running() {	# mcp_http calls running in the mock database now
	psql -X -Atq -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB'
		AND state = 'active' AND query LIKE '%mtmcp.mcp_http(%' AND pid <> pg_backend_pid()"
}
wait_none_running() {	# up to $1 seconds
	local i
	for i in $(seq $(($1 * 10))); do [ "$(running)" = 0 ] && return 0; sleep 0.1; done
	return 1
}
metric() { curl -sS "http://127.0.0.1:$PORT/metrics" | sed -n "s/^mtmcp_http_events_total{event=\"$1\"} //p"; }

# ---------------------------------------------------------------- 1. 413
head -c $((3 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/big"
got=$(python3 - "$PORT" "$T/big" <<'PY'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
body = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer good\r\n"
           "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
           "Content-Length: %d\r\n\r\n" % (port, len(body))).encode())
time.sleep(0.3)		# the server has seen the headers before the body comes
try:
    s.sendall(body)
    data = s.recv(4096).decode(errors="replace")
    print(data.split("\r\n", 1)[0])
except OSError as e:
    print("error: %s" % e)
PY
)
why="got: $got"
check "3 MB with Content-Length (no Expect) is 413, not a reset" grep -q '^HTTP/1.1 413' <<<"$got"
st=$(curl -sS -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" -H 'Authorization: Bearer good' -H 'Expect:' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$T/big" 2>"$T/err")
why="status $st $(cat "$T/err")"
check "3 MB chunked is 413" [ "$st" = 413 ]
st=$(curl -sS -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" -H 'Authorization: Bearer good' \
	-H 'Expect: 100-continue' --data-binary @"$T/big" 2>"$T/err")
why="status $st $(cat "$T/err")"
check "3 MB with Expect: 100-continue is 413" [ "$st" = 413 ]

# ---------------------------------------------------------------- 2. unparsable
st=$(curl -sS -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" "${A[@]}" -d '{"jsonrpc":"2.0","id":1,"method":')
sleep 0.2
why="status $st; log: $(tail -2 "$T/shim.log")"
check "a body that is not JSON is 400, logged (token present) and counted" \
	eval '[ "$st" = 400 ] && grep -q "is not JSON.*a bearer token was present" "$T/shim.log" && [ "$(metric requests_unparsable)" = 1 ]'

# ---------------------------------------------------------------- 3. disconnects
curl -sS --max-time 1 -o /dev/null "$URL" "${H[@]}" "${A[@]}" \
	-d "$(call 10 '{"name":"nap","arguments":{"sleep":30}}')" 2>/dev/null
why="still running: $(running)"
check "a client gone before any answer: its query is cancelled" wait_none_running 4
t0=$(date +%s%N)
st=$(curl -sS --max-time 10 -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" "${A[@]}" -d "$(call 11 '{"name":"echo","arguments":{}}')")
ms=$((($(date +%s%N) - t0) / 1000000))
why="status $st after ${ms} ms"
check "the same token's next call is served at once (the connection was freed)" [ "$st" = 200 -a "$ms" -lt 3000 ]

curl -sS -N --max-time 1.5 -o "$T/stream" "$URL" "${H[@]}" "${A[@]}" \
	-d "$(call 12 '{"name":"slow","arguments":{"steps":60,"sleep":0.5},"_meta":{"progressToken":"p"}}')" 2>/dev/null
why="stream: $(grep -c '^data:' "$T/stream") events; still running: $(running)"
check "a client gone while its SSE stream runs: its query is cancelled" \
	eval 'grep -q notifications/progress "$T/stream" && wait_none_running 4'
sleep 0.3
why="$(metric calls_cancelled_client_gone)"
check "the cancellations are counted" [ "$(metric calls_cancelled_client_gone)" = 2 ]

# ---------------------------------------------------------------- 4. fairness
fair=()
for i in 1 2 3 4; do
	curl -sS --max-time 10 -D "$T/fh$i" -o /dev/null "$URL" "${H[@]}" "${A[@]}" \
		-d "$(call 2$i '{"name":"nap","arguments":{"sleep":2}}')" 2>/dev/null &
	fair+=($!)
done
sleep 0.3
t0=$(date +%s%N)
st=$(curl -sS --max-time 10 -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" "${A2[@]}" -d "$(call 30 '{"name":"echo","arguments":{}}')")
ms=$((($(date +%s%N) - t0) / 1000000))
wait "${fair[@]}"
n429=$(grep -l '^HTTP/1.1 429' "$T"/fh* 2>/dev/null | wc -l)
retry=$(cat "$T"/fh* | tr -d '\r' | grep -ci '^Retry-After: 1$')
why="429s: $n429, Retry-After headers: $retry"
check "a token over its share of the queue gets 429 with Retry-After at once" [ "$n429" = 2 -a "$retry" = 2 ]
why="status $st after ${ms} ms"
check "meanwhile another token is served promptly" [ "$st" = 200 -a "$ms" -lt 1500 ]

# round robin: one connection, token good queues five calls, then good2 one;
# good2's runs after good's current call, not after all five
"$SHIM" --db "dbname=$DB user=mtmcp_shim_mock" --listen "127.0.0.1:${SHIM_PORT2:-0}" \
	--pool 1 --key-max-inflight 10 --queue-timeout 20000 >"$T/shim2.log" 2>&1 &
SHIM2_PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$T/shim2.log" && break; sleep 0.1; done
URL2=http://127.0.0.1:$(grep -o 'listening on 127.0.0.1:[0-9]*' "$T/shim2.log" | head -1 | cut -d: -f2)/mcp
rr=()
for i in 1 2 3 4 5; do
	curl -sS --max-time 20 -o /dev/null "$URL2" "${H[@]}" "${A[@]}" -d "$(call 5$i '{"name":"nap","arguments":{"sleep":0.6}}')" &
	rr+=($!)
	sleep 0.05
done
sleep 0.2
t0=$(date +%s%N)
st=$(curl -sS --max-time 20 -o "$T/b" -w '%{http_code}' "$URL2" "${H[@]}" "${A2[@]}" -d "$(call 60 '{"name":"echo","arguments":{}}')")
ms=$((($(date +%s%N) - t0) / 1000000))
wait "${rr[@]}"
kill -TERM "$SHIM2_PID"
wait "$SHIM2_PID"
why="status $st after ${ms} ms (FIFO would take about 3000)"
check "round robin: another token's call runs next, not after the queued five" [ "$st" = 200 -a "$ms" -lt 1500 ]

# ---------------------------------------------------------------- 5. half-open connections
python3 - "$PORT" 700 15 >"$T/flood" 2>&1 <<'PY' &
import socket, sys, time
port, n, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.bind(("127.0.0.2", 0))
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
time.sleep(1)
for s in socks:		# half a request header, then nothing
    try:
        s.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        pass
print("ready", flush=True)
def server_side():	# connections from 127.0.0.2 the server holds (accepted or in its accept queue)
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return sum(1 for line in f.readlines()[1:]
                   if line.split()[1] == want and line.split()[2].startswith("0200007F:") and line.split()[3] == "01")
start = time.time()
open_socks = set(socks)
held = server_side()
while held and time.time() - start < limit:	# until the server has closed them all
    time.sleep(0.25)
    held = server_side()
    for s in list(open_socks):
        try:
            if s.recv(4096) == b"":
                open_socks.discard(s)
        except BlockingIOError:
            pass
        except OSError:
            open_socks.discard(s)
print("server holds %d after %.1f s (%d of %d client sockets saw the close)"
      % (held, time.time() - start, n - len(open_socks), n), flush=True)
PY
flood=$!
for _ in $(seq 100); do grep -q ready "$T/flood" && break; sleep 0.1; done
t0=$(date +%s%N)
st=$(curl -sS --max-time 5 -o "$T/b" -w '%{http_code}' "$URL" "${H[@]}" "${A2[@]}" -d "$(call 40 '{"name":"echo","arguments":{}}')")
ms=$((($(date +%s%N) - t0) / 1000000))
why="status $st after ${ms} ms"
check "700 half-open connections from 127.0.0.2: a client at 127.0.0.1 is served promptly" [ "$st" = 200 -a "$ms" -lt 2000 ]
wait $flood
why="$(cat "$T/flood")"
check "the server closed every one of them once --request-timeout (2 s) passed" grep -q 'server holds 0 after' "$T/flood"
why="$(metric connections_request_timeout)"
check "the timeouts are counted" [ "$(metric connections_request_timeout)" -ge 1 ]

kill -TERM "$SHIM_PID"
for _ in $(seq 100); do kill -0 "$SHIM_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SHIM_PID"
rc=$?
SHIM_PID=
why="exit $rc"
check "SIGTERM: clean exit 0" [ "$rc" = 0 ]

if [ "$failed" -gt 0 ]; then
	echo "# shim log (last 30 lines):"
	tail -30 "$T/shim.log" | sed 's/^/#   /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
