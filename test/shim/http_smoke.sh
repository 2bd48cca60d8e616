#!/usr/bin/env bash
# test/shim/http_smoke.sh -- end-to-end HTTP checks of mtmcp-http (bash + curl)
#
# Starts the shim on a free 127.0.0.1 port against a database, drives it with
# curl, stops it with SIGTERM (it must exit 0), prints "N passed, M failed"
# and exits non-zero on any failure.
#
# Environment:
#   SHIM_DB               database name or libpq conninfo/URL (required)
#   SHIM_DB_USER          role the shim logs in as (appended to SHIM_DB if set)
#   SHIM_TOKEN            a valid bearer token (required)
#   SHIM_SUSPENDED_TOKEN  a token of a suspended tenant (required)
#   SHIM_TOOL_CALL        params of a tools/call that succeeds
#                         (default {"name":"search_documents","arguments":{"query":"plan"}})
#   SHIM_REQUIRED_SCOPE   passed as --required-scope (default none)
#   SHIM_DB_SCOPE         the scope the database requires (mtmcp.access_scope),
#                         which the shim must advertise without --required-scope
#   SHIM_BIN              the binary (default build/mtmcp-http)
#   SHIM_VALGRIND=1       run the shim under valgrind --leak-check=full and
#                         fail on any error or definite leak
#   SHIM_MOCK=1           no extension needed: load test/shim/mock.sql into
#                         database shim_smoke_mock and use its fixed tokens;
#                         adds checks of live progress, forged-notice
#                         filtering and resource updates on a GET stream
#   PGHOST, PGPORT, ...   as usual for libpq, psql and createdb
#
# Example against the demo (after `make run`):
#   SHIM_DB=mtmcp_demo SHIM_DB_USER=mtmcp_shim \
#   SHIM_TOKEN=$(scripts/mint-token.sh -t acme) \
#   SHIM_SUSPENDED_TOKEN=$(scripts/mint-token.sh -t initech) test/shim/http_smoke.sh
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHIM_BIN=${SHIM_BIN:-$REPO/build/mtmcp-http}
case $SHIM_BIN in /*) ;; *) SHIM_BIN=$REPO/$SHIM_BIN ;; esac

if [ "${SHIM_MOCK:-0}" = 1 ]; then
	psql -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'shim_smoke_mock'" | grep -q 1 ||
		createdb shim_smoke_mock || exit 2
	psql -q -v ON_ERROR_STOP=1 -d shim_smoke_mock -f "$REPO/test/shim/mock.sql" >/dev/null || exit 2
	SHIM_DB=shim_smoke_mock
	SHIM_DB_USER=mtmcp_shim_mock
	SHIM_TOKEN=good
	SHIM_SUSPENDED_TOKEN=suspended
	SHIM_TOOL_CALL='{"name":"echo","arguments":{"x":1}}'
	SHIM_REQUIRED_SCOPE=mcp:access
fi
: "${SHIM_DB:?set SHIM_DB (or SHIM_MOCK=1)}"
: "${SHIM_TOKEN:?set SHIM_TOKEN}"
: "${SHIM_SUSPENDED_TOKEN:?set SHIM_SUSPENDED_TOKEN}"
SHIM_TOOL_CALL=${SHIM_TOOL_CALL:-'{"name":"search_documents","arguments":{"query":"plan"}}'}
[ -x "$SHIM_BIN" ] || { echo "http_smoke: $SHIM_BIN not built (make shim)" >&2; exit 2; }
command -v curl >/dev/null || { echo "http_smoke: curl is required" >&2; exit 2; }

case $SHIM_DB in *=* | *://*) CONN=$SHIM_DB ;; *) CONN="dbname=$SHIM_DB" ;; esac
[ -n "${SHIM_DB_USER:-}" ] && CONN="$CONN user=$SHIM_DB_USER"

T=$(mktemp -d /tmp/shim-smoke.XXXXXX)
SHIM_PID=
cleanup() {
	[ -n "$SHIM_PID" ] && kill -0 "$SHIM_PID" 2>/dev/null && kill -9 "$SHIM_PID" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	[ -n "${SHIM_KEEP:-}" ] && cp "$T/shim.log" "$SHIM_KEEP"; rm -rf "$T"
}
trap cleanup EXIT

# ---------------------------------------------------------------- start

VG=()
WAIT=100
if [ "${SHIM_VALGRIND:-0}" = 1 ]; then
	VG=(valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
		--error-exitcode=99 --log-file="$T/valgrind.log")
	WAIT=600
fi
SCOPE_ARGS=()
SCOPE_PARAM=
if [ -n "${SHIM_REQUIRED_SCOPE:-}" ]; then
	SCOPE_ARGS=(--required-scope "$SHIM_REQUIRED_SCOPE")
	SCOPE_PARAM=", scope=\"$SHIM_REQUIRED_SCOPE\""
elif [ -n "${SHIM_DB_SCOPE:-}" ]; then
	SCOPE_PARAM=", scope=\"$SHIM_DB_SCOPE\""
fi
"${VG[@]}" "$SHIM_BIN" --db "$CONN" --listen 127.0.0.1:0 --max-body 4096 --pool 4 "${SCOPE_ARGS[@]}" \
	--authorization-servers https://idp.example.test --scopes documents,documents.write \
	>"$T/shim.log" 2>&1 &
SHIM_PID=$!
for _ in $(seq $WAIT); do
	grep -q 'listening on' "$T/shim.log" && break
	kill -0 $SHIM_PID 2>/dev/null || break
	sleep 0.1
done
PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$T/shim.log" | head -1 | cut -d: -f2)
if [ -z "$PORT" ]; then
	echo "http_smoke: the shim did not start:" >&2
	cat "$T/shim.log" >&2
	exit 1
fi
BASE=http://127.0.0.1:$PORT
URL=$BASE/mcp
META=$BASE/.well-known/oauth-protected-resource/mcp
echo "# mtmcp-http on port $PORT, database: $SHIM_DB"

# ---------------------------------------------------------------- helpers

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
nok() { failed=$((failed + 1)); echo "FAIL - $1${2:+ ($2)}"; }

ACC=(-H 'Accept: application/json, text/event-stream')
CT=(-H 'Content-Type: application/json')
AUTH=(-H "Authorization: Bearer $SHIM_TOKEN")

# req METHOD URL [curl args...]: sets $status; headers in $T/h, body in $T/b
req() {
	local m=$1 u=$2
	shift 2
	status=$(curl -sS --max-time 20 -o "$T/b" -D "$T/h" -w '%{http_code}' -X "$m" "$@" "$u" 2>"$T/curl.err")
}
# post JSON [curl args...]: POST to /mcp with the right headers ($ACCEPT overrides Accept)
post() {
	local body=$1
	shift
	req POST "$URL" -H "Accept: ${ACCEPT:-application/json, text/event-stream}" "${CT[@]}" \
		--data-binary "$body" "$@"
}
hdr() { grep -i "^$1:" "$T/h" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'; }
body() { cat "$T/b"; }
# json_has REGEX: the body matches (JSON may or may not have spaces after ":")
json_has() { grep -Eq -- "$1" "$T/b"; }

# check NAME WANT_STATUS [extra condition command...]
# (one command: a compound condition goes in a function, cond() { a && b; } --
# "check NAME 200 a && b" would check a alone and run b after, unchecked)
check() {
	local name=$1 want=$2
	shift 2
	if [ "$status" != "$want" ]; then
		nok "$name" "status $status, want $want; body: $(head -c 200 "$T/b")"
	elif [ $# -gt 0 ] && ! "$@"; then
		nok "$name" "status ok, but: $*; headers: $(tr -d '\r' <"$T/h" | tr '\n' '|' | head -c 300) body: $(head -c 200 "$T/b")"
	else
		ok "$name"
	fi
}

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"http_smoke","version":"1"}}}'

# ---------------------------------------------------------------- transport refusals

ACCEPT='application/json' post "$INIT" "${AUTH[@]}"
check "POST without text/event-stream in Accept is 406" 406

ACCEPT='text/event-stream' post "$INIT" "${AUTH[@]}"
check "POST without application/json in Accept is 406" 406

req POST "$URL" "${ACC[@]}" -H 'Content-Type: text/plain' --data-binary "$INIT" "${AUTH[@]}"
check "POST with Content-Type text/plain is 415" 415

head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST "$URL" "${ACC[@]}" "${CT[@]}" --data-binary @"$T/big" "${AUTH[@]}"
check "POST over --max-body is 413" 413

post '[{"jsonrpc":"2.0","id":1,"method":"ping"}]' "${AUTH[@]}" -H 'MCP-Protocol-Version: 2025-11-25'
check "a batch after 2025-03-26 is 400 with a -32600 JSON-RPC error" 400 json_has '"code": ?-32600'

post '[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]' "${AUTH[@]}" -H 'MCP-Protocol-Version: 2025-03-26'
check "initialize in a batch is refused" 200 json_has '^\[.*"code": ?-32600'

post '{"jsonrpc":"2.0","id":1,' "${AUTH[@]}"
check "invalid JSON is 400 with a -32700 error, id null" 400 json_has '"id": ?null.*"code": ?-32700'

post "$INIT" "${AUTH[@]}" -H 'MCP-Protocol-Version: 2024-01-01'
check "an unsupported MCP-Protocol-Version is 400" 400

post "$INIT" "${AUTH[@]}" -H 'Origin: http://evil.example'
check "a foreign Origin is 403" 403

post "$INIT" "${AUTH[@]}" -H "Origin: http://127.0.0.1:$PORT"
check "the local Origin is allowed" 200

post "$INIT" "${AUTH[@]}" -H 'Host: evil.example'
check "a foreign Host is 403 (DNS rebinding)" 403

req PUT "$URL" "${AUTH[@]}"
check "PUT is 405 with Allow" 405 [ "$(hdr Allow)" = "GET, POST, DELETE" ]

req GET "$URL" -H 'Accept: application/json' "${AUTH[@]}"
check "GET without text/event-stream in Accept is 405" 405

# ---------------------------------------------------------------- authentication

post "$INIT"
check "no token is 401 with the exact challenge" 401 \
	[ "$(hdr WWW-Authenticate)" = "Bearer resource_metadata=\"$META\"$SCOPE_PARAM" ]
json_has '"reason": ?"missing_token"' && ok "the 401 body gives reason missing_token" ||
	nok "the 401 body gives reason missing_token" "$(body)"

post "$INIT" -H 'Authorization: Bearer not.a.token'
check "a bad token is 401 with error=\"invalid_token\"" 401 \
	grep -q "^WWW-Authenticate: Bearer resource_metadata=\"$META\", error=\"invalid_token\"" "$T/h"

post "$INIT" -H "Authorization: Bearer $SHIM_SUSPENDED_TOKEN"
check "a suspended tenant is 403 (tenant_suspended)" 403 \
	grep -q 'WWW-Authenticate: Bearer error="invalid_token", error_description="tenant_suspended", resource_metadata=' "$T/h"

if [ "${SHIM_MOCK:-0}" = 1 ]; then
	post "$INIT" -H "Authorization: Bearer noscope"
	check "mock: insufficient_scope is 403 with the scope challenge" 403 \
		[ "$(hdr WWW-Authenticate)" = "Bearer error=\"insufficient_scope\", scope=\"$SHIM_REQUIRED_SCOPE\", resource_metadata=\"$META\"" ]
fi

# ---------------------------------------------------------------- a session

post "$INIT" "${AUTH[@]}"
SID=$(hdr Mcp-Session-Id)
cond() {
	[ -n "$SID" ] && [ "$(hdr Content-Type)" = "application/json" ] && json_has '"protocolVersion"'
}
check "initialize is 200 with an Mcp-Session-Id" 200 cond
SH=(-H "Mcp-Session-Id: $SID")
PV=(-H 'MCP-Protocol-Version: 2025-11-25')

post '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
check "a notification is 202 with an empty body" 202 [ ! -s "$T/b" ]

post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${AUTH[@]}" "${PV[@]}"
check "a request without the session header is 400" 400

post '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${AUTH[@]}" "${PV[@]}" \
	-H "Mcp-Session-Id: no-such-session-$RANDOM"
check "a request with an unknown session is 404" 404

post '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
check "tools/list is JSON" 200 [ "$(hdr Content-Type)" = "application/json" ]

post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":$SHIM_TOOL_CALL}" \
	"${AUTH[@]}" "${SH[@]}" "${PV[@]}"
last_data=$(grep '^data: ' "$T/b" | tail -1)
cond() {
	[ "$(hdr Content-Type)" = "text/event-stream" ] && grep -Eq '"id": ?4' <<<"$last_data" &&
	grep -Eq '"result"|"error"' <<<"$last_data"
}
check "tools/call is an event stream whose last event is the response" 200 cond

# GET stream: opens, and DELETE of the session ends it
curl -sS -N --max-time 20 -D "$T/gh" -o "$T/gb" -H 'Accept: text/event-stream' "${AUTH[@]}" "${SH[@]}" "${PV[@]}" \
	"$URL" 2>/dev/null &
GET_PID=$!
for _ in $(seq 50); do grep -q '^: stream open' "$T/gb" 2>/dev/null && break; sleep 0.1; done
if grep -q '^HTTP/1.1 200' "$T/gh" && grep -qi '^Content-Type: text/event-stream' "$T/gh"; then
	ok "GET opens an event stream"
else
	nok "GET opens an event stream" "$(tr -d '\r' <"$T/gh" 2>/dev/null | head -1)"
fi

if [ "${SHIM_MOCK:-0}" = 1 ]; then
	# live progress before the result; forged notices filtered
	post '{"jsonrpc":"2.0","id":5,"method":"resources/subscribe","params":{"uri":"doc://1"}}' "${AUTH[@]}" "${SH[@]}"
	post '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"slow","arguments":{"steps":2,"sleep":0.2},"_meta":{"progressToken":"pt"}}}' \
		"${AUTH[@]}" "${SH[@]}"
	events=$(grep -c '^data: ' "$T/b")
	cond() {
		[ "$events" = 3 ] && ! grep -q 'FORGED\|sampling' "$T/b" &&
		[ "$(grep '^data: ' "$T/b" | head -1 | grep -c 'notifications/progress')" = 1 ]
	}
	check "mock: progress streams before the result, forgeries dropped" 200 cond
	# a stream of more events than its history first holds (it grows): all replayed, in order
	post '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow","arguments":{"steps":11,"sleep":0.01},"_meta":{"progressToken":"pt9"}}}' \
		"${AUTH[@]}" "${SH[@]}" "${PV[@]}"
	ids=$(grep '^id: ' "$T/b" | cut -c5- | tr -d '\r')
	second=$(sed -n 2p <<<"$ids")	# the first real event (the priming event is -0)
	req GET "$URL" -H 'Accept: text/event-stream' "${AUTH[@]}" "${SH[@]}" "${PV[@]}" -H "Last-Event-ID: $second"
	cond() {
		[ "$(wc -l <<<"$ids")" = 13 ] && [ "$(grep '^id: ' "$T/b" | cut -c5- | tr -d '\r')" = "$(sed -n '3,$p' <<<"$ids")" ] &&
		[ "$(grep -c '^data: .*notifications/progress' "$T/b")" = 10 ] && grep -q '^data: .*"id": *9' "$T/b"
	}
	check "mock: 12 events, replayed after the first: the 11 others, in order" 200 cond
	post '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"touch","arguments":{"uri":"doc://1"}}}' \
		"${AUTH[@]}" "${SH[@]}"
	for _ in $(seq 50); do grep -q 'resources/updated' "$T/gb" && break; sleep 0.1; done
	grep -q 'notifications/resources/updated' "$T/gb" && ok "mock: a resource update reaches the GET stream" ||
		nok "mock: a resource update reaches the GET stream" "$(cat "$T/gb")"
	post '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"fail"}}' "${AUTH[@]}" "${SH[@]}"
	check "mock: an SQL error is 500 with a -32603 error" 500 json_has '"code": ?-32603'
fi

# ---------------------------------------------------------------- SSE ids, priming, resumption, batches
post "{\"jsonrpc\":\"2.0\",\"id\":40,\"method\":\"tools/call\",\"params\":$SHIM_TOOL_CALL}" \
	"${AUTH[@]}" "${SH[@]}" "${PV[@]}"
first_id=$(grep -m1 '^id: ' "$T/b" | cut -c5- | tr -d '\r')
cond() {
	[ "$(head -3 "$T/b" | tr -d '\r' | sed 's/[0-9a-f]\{16\}/S/')" = "$(printf 'id: S-0\nretry: 1000\ndata: ')" ] &&
	grep -q '^id: [0-9a-f]\{16\}-1$' "$T/b"
}
check "a 2025-11-25 event stream opens with a priming event (id, retry, empty data)" 200 cond
req GET "$URL" -H 'Accept: text/event-stream' "${AUTH[@]}" "${SH[@]}" "${PV[@]}" -H "Last-Event-ID: $first_id"
check "GET with Last-Event-ID replays the rest of a finished stream, then ends" 200 \
	grep -Eq '^data: .*"id": ?40' "$T/b"
post "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"tools/call\",\"params\":$SHIM_TOOL_CALL}" \
	"${AUTH[@]}" "${SH[@]}" -H 'MCP-Protocol-Version: 2025-06-18'
cond() {
	grep -q '^id: [0-9a-f]\{16\}-1$' "$T/b" && ! grep -q '^retry:' "$T/b"
}
check "a 2025-06-18 event stream has event ids but no priming event" 200 cond
post '[{"jsonrpc":"2.0","id":42,"method":"tools/list"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":43,"method":"tools/list"}]' \
	"${AUTH[@]}" "${SH[@]}" -H 'MCP-Protocol-Version: 2025-03-26'
check "a 2025-03-26 batch: one call per message, the answers in an array" 200 \
	json_has '^\[\{.*"id": ?42.*\},\{.*"id": ?43.*\}\]$'
post '[{"jsonrpc":"2.0","method":"notifications/x"}]' "${AUTH[@]}" "${SH[@]}"
check "a batch of notifications only is 202" 202

if [ "${SHIM_MOCK:-0}" = 1 ]; then
	# ------------------------------------------------------------ input requests of a session call (mrtr.c)
	curl -sS -N --max-time 20 -o "$T/ask" -H 'Accept: application/json, text/event-stream' "${CT[@]}" \
		"${AUTH[@]}" "${SH[@]}" "${PV[@]}" --data-binary \
		'{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"ask","arguments":{}}}' "$URL" &
	ASK_PID=$!
	answer() {	# answer METHOD RESULT: the pending request of that method
		local id
		for _ in $(seq 100); do
			id=$(grep "\"method\": *\"$1\"" "$T/ask" 2>/dev/null | grep -o '"id": *"mtmcp-[0-9a-f]*"' | grep -o 'mtmcp-[0-9a-f]*' | tail -1)
			[ -n "$id" ] && ! grep -qx "$id" "$T/answered" 2>/dev/null && break
			id=
			sleep 0.1
		done
		[ -n "$id" ] || return 1
		echo "$id" >>"$T/answered"
		post "{\"jsonrpc\":\"2.0\",\"id\":\"$id\",\"result\":$2}" "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
		[ "$status" = 202 ]
	}
	if answer elicitation/create '{"action":"accept","content":{"name":"Ann"}}' &&
		answer elicitation/create '{"action":"accept","content":{}}' &&
		answer sampling/createMessage '{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}'; then
		wait $ASK_PID
		if grep -Eq '^data: .*"id": ?50.*state=r2:Ann sure=accept llm=hi' "$T/ask"; then
			ok "mock: a session call's input requests go to the client, its answers come back (two rounds)"
		else
			nok "mock: a session call's input requests go to the client, its answers come back (two rounds)" "$(cat "$T/ask")"
		fi
	else
		kill $ASK_PID 2>/dev/null
		nok "mock: a session call's input requests go to the client, its answers come back (two rounds)" "$(cat "$T/ask")"
	fi
	post '{"jsonrpc":"2.0","id":"mtmcp-0000","result":{}}' "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
	check "mock: an answer nobody waits for is 202" 202

	# ------------------------------------------------------------ 2026-07-28
	S26=(-H 'MCP-Protocol-Version: 2026-07-28')
	META26='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
	post "{\"jsonrpc\":\"2.0\",\"id\":60,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"region\":\"eu\"},$META26}}" \
		"${AUTH[@]}" "${S26[@]}" -H 'mcp-method: tools/call' -H 'MCP-NAME:  echo ' -H 'Mcp-Param-Region: =?base64?ZXU=?=' -H "Mcp-Session-Id: $SID"
	cond() {
		json_has '"mcp-param": ?\{"region": ?"eu"\}' && json_has '"mcp-name": ?"echo"' && json_has '"session": ?null' &&
		[ -z "$(hdr Mcp-Session-Id)" ]
	}
	check "2026-07-28: stateless, the headers (decoded) go to the database" 200 cond
	post "{\"jsonrpc\":\"2.0\",\"id\":61,\"method\":\"tools/list\",\"params\":{$META26}}" "${AUTH[@]}" "${S26[@]}" -H 'Mcp-Method: prompts/list'
	check "2026-07-28: Mcp-Method unlike the body is 400 -32020 with the id" 400 json_has '"id": ?61.*"code": ?-32020|"code": ?-32020.*"id": ?61'
	post "{\"jsonrpc\":\"2.0\",\"id\":62,\"method\":\"tools/list\",\"params\":{$META26}}" "${AUTH[@]}" "${S26[@]}"
	check "2026-07-28: no Mcp-Method is 400 -32020" 400 json_has '"code": ?-32020'
	post "{\"jsonrpc\":\"2.0\",\"id\":63,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",$META26}}" "${AUTH[@]}" "${S26[@]}" -H 'Mcp-Method: tools/call'
	check "2026-07-28: no Mcp-Name is 400 -32020" 400 json_has '"code": ?-32020'
	post "{\"jsonrpc\":\"2.0\",\"id\":64,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",$META26}}" "${AUTH[@]}" "${S26[@]}" \
		-H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' -H 'Mcp-Param-X: =?base64?SGVsbG8?='
	check "2026-07-28: an Mcp-Param value with bad base64 is 400 -32020" 400 json_has '"code": ?-32020'
	post '{"jsonrpc":"2.0","id":65,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v9"}}}' \
		"${AUTH[@]}" "${S26[@]}" -H 'Mcp-Method: tools/list'
	check "2026-07-28: header and _meta versions differ: 400 -32020" 400 json_has '"code": ?-32020'
	post '{"jsonrpc":"2.0","id":66,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"v9"}}}' \
		"${AUTH[@]}" -H 'MCP-Protocol-Version: v9' -H 'Mcp-Method: tools/list'
	cond() {
		json_has '"code": ?-32022' && json_has '"requested": ?"v9"' && json_has '"supported": ?\["2026-07-28"'
	}
	check "an unknown version: 400 -32022 with supported and requested" 400 cond
	post "{\"jsonrpc\":\"2.0\",\"id\":67,\"method\":\"initialize\",\"params\":{$META26}}" "${AUTH[@]}" "${S26[@]}" -H 'Mcp-Method: initialize'
	check "2026-07-28: the database's 404 goes out with its body" 404 json_has '"code": ?-32601'
	# subscriptions/listen: the acknowledgement first, then the list changes asked for
	curl -sS -N --max-time 20 -o "$T/listen" -H 'Accept: application/json, text/event-stream' "${CT[@]}" \
		"${AUTH[@]}" "${S26[@]}" -H 'Mcp-Method: subscriptions/listen' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":70,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"toolsListChanged\":true},$META26}}" "$URL" &
	LISTEN_PID=$!
	for _ in $(seq 50); do grep -q 'acknowledged' "$T/listen" 2>/dev/null && break; sleep 0.1; done
	for t in trigger_prompts trigger_tools; do
		post "{\"jsonrpc\":\"2.0\",\"id\":71,\"method\":\"tools/call\",\"params\":{\"name\":\"$t\",$META26}}" "${AUTH[@]}" "${S26[@]}" \
			-H 'Mcp-Method: tools/call' -H "Mcp-Name: $t"
	done
	for _ in $(seq 50); do grep -q 'tools/list_changed' "$T/listen" 2>/dev/null && break; sleep 0.1; done
	kill $LISTEN_PID 2>/dev/null
	wait $LISTEN_PID 2>/dev/null
	if [ "$(grep '^data: {' "$T/listen" | head -1 | grep -c 'notifications/subscriptions/acknowledged')" = 1 ] &&
		grep -q '^data: .*notifications/tools/list_changed.*"io.modelcontextprotocol/subscriptionId": *"sub-a"' "$T/listen" &&
		! grep -q 'prompts/list_changed' "$T/listen"; then
		ok "2026-07-28: subscriptions/listen: acknowledged first, then only the changes asked for, tagged"
	else
		nok "2026-07-28: subscriptions/listen: acknowledged first, then only the changes asked for, tagged" "$(cat "$T/listen")"
	fi

	req GET "$URL" -H 'Accept: text/event-stream' "${AUTH[@]}" "${S26[@]}"
	check "2026-07-28: GET is 405 (Allow: POST)" 405 [ "$(hdr Allow)" = POST ]
	req DELETE "$URL" "${AUTH[@]}" "${S26[@]}"
	check "2026-07-28: DELETE is 405" 405
fi

req DELETE "$URL" "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
check "DELETE of the session is 204" 204
if wait_for=$(for _ in $(seq 50); do kill -0 $GET_PID 2>/dev/null || { echo done; break; }; sleep 0.1; done) && [ "$wait_for" = done ]; then
	ok "DELETE ends the session's GET stream"
else
	nok "DELETE ends the session's GET stream"
fi

post '{"jsonrpc":"2.0","id":9,"method":"ping"}' "${AUTH[@]}" "${SH[@]}" "${PV[@]}"
check "the deleted session is 404" 404

req GET "$URL" -H 'Accept: text/event-stream' "${AUTH[@]}" "${SH[@]}"
check "GET on the deleted session is 404" 404

# subscriptions/listen against the database (real extension only): the acknowledgement first,
# then acme's stream hears acme's tool list change, never globex's
if [ "${SHIM_MOCK:-0}" != 1 ]; then
	META26L='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
	curl -sS -N --max-time 20 -o "$T/listen-db" -H 'Accept: application/json, text/event-stream' "${CT[@]}" \
		"${AUTH[@]}" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: subscriptions/listen' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":\"listen-1\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"toolsListChanged\":true},$META26L}}" "$URL" &
	LISTEN_PID=$!
	for _ in $(seq 50); do grep -q 'acknowledged' "$T/listen-db" 2>/dev/null && break; sleep 0.1; done
	TOOL=$(psql -X -Atq -d "$SHIM_DB" -c "SELECT name FROM mtmcp.tools WHERE required_feature IS NULL OR required_feature = 'documents' ORDER BY name LIMIT 1")
	psql -X -q -d "$SHIM_DB" -c "SELECT mtmcp.set_tenant_tool_description('globex', '$TOOL', 'Globex words.')" >/dev/null
	psql -X -q -d "$SHIM_DB" -c "SELECT mtmcp.set_tenant_tool_description('acme', '$TOOL', 'Acme words.')" >/dev/null
	for _ in $(seq 50); do grep -q 'tools/list_changed' "$T/listen-db" 2>/dev/null && break; sleep 0.1; done
	sleep 0.3
	kill $LISTEN_PID 2>/dev/null
	wait $LISTEN_PID 2>/dev/null
	psql -X -q -d "$SHIM_DB" -c "SELECT mtmcp.set_tenant_tool_description(t, '$TOOL', NULL) FROM unnest(ARRAY['acme', 'globex']) t" >/dev/null
	if [ "$(grep '^data: {' "$T/listen-db" | head -1 | grep -c 'notifications/subscriptions/acknowledged.*"toolsListChanged": *true')" = 1 ] &&
		[ "$(grep -c '^data: .*notifications/tools/list_changed.*"io.modelcontextprotocol/subscriptionId": *"listen-1"' "$T/listen-db")" = 1 ] &&
		! grep -q '^data: .*acme\|globex' "$T/listen-db"; then
		ok "2026-07-28 (database): subscriptions/listen hears its tenant's list change, not another tenant's"
	else
		nok "2026-07-28 (database): subscriptions/listen hears its tenant's list change, not another tenant's" "$(cat "$T/listen-db")"
	fi
fi

# a tenant over its rate limit: 429 with Retry-After (real extension only)
if [ "${SHIM_MOCK:-0}" != 1 ]; then
	psql -X -q -d "$SHIM_DB" -c "SELECT mtmcp.set_tenant_setting('acme', 'rate_limit', '{\"requests\": 1, \"window_seconds\": 3600}')" >/dev/null
	post "$INIT" "${AUTH[@]}"
	post "$INIT" "${AUTH[@]}"
	cond() {
		json_has '"code": ?-32029' && [ -n "$(hdr Retry-After)" ] && [ "$(hdr Retry-After)" -gt 0 ]
	}
	check "over the tenant's rate limit is 429 with Retry-After" 429 cond
	psql -X -q -d "$SHIM_DB" -c "SELECT mtmcp.set_tenant_setting('acme', 'rate_limit', NULL)" >/dev/null
fi

# ---------------------------------------------------------------- the other endpoints

req GET "$BASE/healthz"
check "/healthz is 200 ok" 200 [ "$(body)" = ok ]

req GET "$BASE/metrics"
cond() {
	grep -q '^mtmcp_http_requests_total{method="POST",rpc="initialize",status="200"} [1-9]' "$T/b" &&
	grep -q '^mtmcp_http_request_duration_seconds_bucket{method="POST",le="+Inf"}' "$T/b" &&
	grep -q '^mtmcp_http_db_connections_in_use ' "$T/b" && grep -q '^mtmcp_http_db_connections_total ' "$T/b"
}
check "/metrics has the counters and gauges" 200 cond

req GET "$BASE/.well-known/oauth-protected-resource"
ADV=${SHIM_REQUIRED_SCOPE:-${SHIM_DB_SCOPE:-}}
case $ADV in "" | documents | documents.write) WANT_SCOPES='"documents","documents.write"' ;; *) WANT_SCOPES="\"$ADV\",\"documents\",\"documents.write\"" ;; esac
cond() {
	json_has "\"resource\":\"$URL\"" && json_has '"authorization_servers":\["https://idp.example.test"\]' &&
	json_has '"bearer_methods_supported":\["header"\]' && json_has "\"scopes_supported\":\\[$WANT_SCOPES\\]"
}
check "/.well-known/oauth-protected-resource is RFC 9728 JSON (the required scope among scopes_supported)" 200 cond
cp "$T/b" "$T/meta_root"
req GET "$META"
check "/.well-known/oauth-protected-resource/mcp serves the same document" 200 cmp -s "$T/b" "$T/meta_root"

req GET "$BASE/nothing-here"
check "an unknown path is 404" 404

# ---------------------------------------------------------------- shutdown

kill -TERM $SHIM_PID
rc=
for _ in $(seq 300); do
	if ! kill -0 $SHIM_PID 2>/dev/null; then
		wait $SHIM_PID
		rc=$?
		break
	fi
	sleep 0.1
done
if [ "$rc" = 0 ]; then
	ok "SIGTERM: clean exit 0"
else
	nok "SIGTERM: clean exit 0" "exit status ${rc:-still running}"
fi
SHIM_PID=

if grep -q "Bearer\|$SHIM_TOKEN" "$T/shim.log"; then
	nok "the log never contains tokens"
else
	ok "the log never contains tokens"
fi

if [ "${SHIM_VALGRIND:-0}" = 1 ]; then
	if grep -q 'ERROR SUMMARY: 0 errors' "$T/valgrind.log" && ! grep -q 'definitely lost: [1-9]' "$T/valgrind.log"; then
		ok "valgrind: no errors, no definite leaks"
	else
		nok "valgrind: no errors, no definite leaks"
		grep -A25 -E '^==[0-9]+== (Invalid|Conditional|Syscall|.*definitely lost in)' "$T/valgrind.log" | head -150
		grep -E 'ERROR SUMMARY|definitely lost' "$T/valgrind.log"
	fi
fi

if [ "$failed" -gt 0 ]; then
	echo "# shim log (last 40 lines):"
	tail -40 "$T/shim.log" | sed 's/^/#   /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
